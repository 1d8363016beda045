/**
 * An independent, deliberately naive re-implementation of docs/strategy.md — CSV parsing, the
 * alignment, a from-scratch OLS over the window at every bar, the gate (Engle–Granger from
 * src/stats), the state machine, sizing, fills, commissions, equity and metrics — whose JSON must
 * equal the real pipeline's (tandem's CSV loader, aligner, strategy and runner) to the cent.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backtestFile } from '../src/backtest/backtest-file.ts';
import { backtestJson } from '../src/backtest/output.ts';
import { engleGranger } from '../src/stats/index.ts';
import { rng, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';

interface Row { t: number; o: number; c: number }

function naiveOls(px: number[], py: number[]): { z: number; b: number } {
  const W = px.length;
  const mx = px.reduce((a, v) => a + v, 0) / W;
  const my = py.reduce((a, v) => a + v, 0) / W;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < W; i++) {
    sxx += (px[i]! - mx) ** 2;
    sxy += (px[i]! - mx) * (py[i]! - my);
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  const res = py.map((v, i) => v - a - b * px[i]!);
  const sd = Math.sqrt(res.reduce((s, r) => s + r * r, 0) / (W - 1));
  return { z: res[W - 1]! / sd, b };
}

/** The spec's Kalman recursion with explicit 2×2 matrices, from θ = 0, P = 0. */
function naiveKalman(px: number[], py: number[], delta: number, ve: number): { z: number; b: number } {
  let th = [0, 0];
  let P = [[0, 0], [0, 0]];
  const vw = delta / (1 - delta);
  let z = NaN;
  for (let t = 0; t < px.length; t++) {
    const h = [px[t]!, 1];
    const R = [[P[0]![0]! + vw, P[0]![1]!], [P[1]![0]!, P[1]![1]! + vw]];
    const yhat = h[0]! * th[0]! + h[1]! * th[1]!;
    const Rh = [R[0]![0]! * h[0]! + R[0]![1]! * h[1]!, R[1]![0]! * h[0]! + R[1]![1]! * h[1]!];
    const Q = h[0]! * Rh[0]! + h[1]! * Rh[1]! + ve;
    const e = py[t]! - yhat;
    const K = [Rh[0]! / Q, Rh[1]! / Q];
    th = [th[0]! + K[0]! * e, th[1]! + K[1]! * e];
    const hR = [h[0]! * R[0]![0]! + h[1]! * R[1]![0]!, h[0]! * R[0]![1]! + h[1]! * R[1]![1]!];
    P = [[R[0]![0]! - K[0]! * hR[0]!, R[0]![1]! - K[0]! * hR[1]!], [R[1]![0]! - K[1]! * hR[0]!, R[1]![1]! - K[1]! * hR[1]!]];
    z = e / Math.sqrt(Q);
  }
  return { z, b: th[0]! };
}

function naiveBacktest(csv: string, p: CointegrationParams, slippageBps: number, cash0: number): unknown {
  // Parse and align.
  const bySym = new Map<string, Map<number, Row>>();
  for (const line of csv.trim().split('\n').slice(1)) {
    const [time, sym, open, , , close] = line.split(',');
    const t = /^\d+$/.test(time!) ? Number(time) : Date.parse(time!);
    if (!bySym.has(sym!)) bySym.set(sym!, new Map());
    bySym.get(sym!)!.set(t, { t, o: Number(open), c: Number(close) });
  }
  const ym = bySym.get(p.legs.y.symbol)!;
  const xm = bySym.get(p.legs.x.symbol)!;
  const times = [...ym.keys()].filter((t) => xm.has(t)).sort((a, b) => a - b);
  const Y = times.map((t) => ym.get(t)!);
  const X = times.map((t) => xm.get(t)!);
  const n = times.length;
  const tr = (v: number) => (p.transform === 'log' ? Math.log(v) : v);
  const W = p.lookback;

  let cash = cash0;
  let hy = 0;
  let hx = 0;
  let state: 'FLAT' | 'LONG' | 'SHORT' = 'FLAT';
  let cooling = false;
  let gateOpen = !p.gate;
  let entryBar = -1;
  type Trade = { side: string; entryTime: number; exitTime: number | null; exitReason: string | null; qtyY: number; qtyX: number; pnl: number; eb: number; xb: number };
  let pend: { leg: 'y' | 'x'; q: number; trade: Trade }[] = [];
  let cur: Trade | null = null;
  const trades: Trade[] = [];
  let hyPlanned = 0;
  let hxPlanned = 0;
  const fills: { time: number; symbol: string; side: string; qty: number; price: number; commission: number }[] = [];
  const E: number[] = [];
  let comm = 0;
  const roundDown = (q: number, inc: number) => {
    const k = Math.floor(q / inc + 1e-9);
    return k > 0 ? Number((k * inc).toFixed(12)) : 0;
  };
  const fee = (leg: 'y' | 'x', q: number, price: number) => {
    const m = p.legs[leg].commission;
    if (m.model === 'per-share') {
      let c = Math.max(m.minimum, m.perShare * q);
      if (m.maxPctOfValue !== undefined) c = Math.min(c, m.maxPctOfValue * q * price);
      return c;
    }
    return Math.max(m.minimum, m.pct * q * price);
  };

  for (let t = 0; t < n; t++) {
    for (const o of pend) {
      const bar = o.leg === 'y' ? Y[t]! : X[t]!;
      const buy = o.q > 0;
      const price = bar.o * (buy ? 1 + slippageBps / 1e4 : 1 - slippageBps / 1e4);
      const c = fee(o.leg, Math.abs(o.q), price);
      cash += -o.q * price - c;
      o.trade.pnl += -o.q * price - c;
      comm += c;
      if (o.leg === 'y') hy += o.q;
      else hx += o.q;
      fills.push({ time: times[t]!, symbol: p.legs[o.leg].symbol, side: buy ? 'BUY' : 'SELL', qty: Math.abs(o.q), price, commission: c });
    }
    pend = [];
    const eq = cash + hy * Y[t]!.c + hx * X[t]!.c;
    E.push(eq);
    if (t === n - 1 || t < W - 1) continue;

    // Everything from scratch: the Kalman filter re-run from bar 0, or the OLS over the window.
    let z: number;
    let b: number;
    if (p.hedge.method === 'kalman') ({ z, b } = naiveKalman(X.slice(0, t + 1).map((v) => tr(v.c)), Y.slice(0, t + 1).map((v) => tr(v.c)), p.hedge.delta, p.hedge.ve));
    else ({ z, b } = naiveOls(X.slice(t - W + 1, t + 1).map((v) => tr(v.c)), Y.slice(t - W + 1, t + 1).map((v) => tr(v.c))));

    if (p.gate && (t - (W - 1)) % p.gate.every === 0) {
      if (t + 1 < p.gate.lookback) gateOpen = false;
      else {
        const gx = X.slice(t - p.gate.lookback + 1, t + 1).map((v) => tr(v.c));
        const gy = Y.slice(t - p.gate.lookback + 1, t + 1).map((v) => tr(v.c));
        gateOpen = engleGranger(gy, gx, { trend: 'c', autoLag: 'aic' }).pValue <= p.gate.maxPValue;
      }
    }
    if (cooling && Math.abs(z) < p.exitZ) cooling = false;
    const close = (reason: string) => {
      cur!.exitTime = times[t]!;
      cur!.exitReason = reason;
      cur!.xb = t;
      pend = [];
      if (hyPlanned !== 0) pend.push({ leg: 'y', q: -hyPlanned, trade: cur! });
      if (hxPlanned !== 0) pend.push({ leg: 'x', q: -hxPlanned, trade: cur! });
      hyPlanned = 0;
      hxPlanned = 0;
      state = 'FLAT';
      cur = null;
      if (reason === 'stop') cooling = true;
    };
    if (state === 'FLAT') {
      if (!gateOpen || cooling) continue;
      let side: 'LONG' | 'SHORT' | null = null;
      if (z >= p.entryZ && !(z >= p.stopZ)) side = 'SHORT';
      if (z <= -p.entryZ && !(z <= -p.stopZ)) side = 'LONG';
      if (!side) continue;
      const G = p.sizing.capitalFraction * eq;
      const cy = Y[t]!.c;
      const cx = X[t]!.c;
      let qy: number;
      let qx: number;
      if (p.shortMode === 'long-only') {
        if (side === 'LONG') {
          qy = roundDown(G / cy, p.legs.y.qtyIncrement);
          qx = 0;
          if (qy === 0) continue;
        } else {
          if (!(b > 0)) continue;
          qy = 0;
          qx = roundDown(G / cx, p.legs.x.qtyIncrement);
          if (qx === 0) continue;
        }
      } else {
        const B = Math.abs(b);
        const ry = p.transform === 'log' ? G / (1 + B) / cy : G / (cy + B * cx);
        const rx = p.transform === 'log' ? (B * G) / (1 + B) / cx : B * ry;
        qy = roundDown(ry, p.legs.y.qtyIncrement);
        qx = roundDown(rx, p.legs.x.qtyIncrement);
        if (qy === 0 || qx === 0) continue;
      }
      const d = side === 'LONG' ? 1 : -1;
      hyPlanned = p.shortMode === 'long-only' ? qy : d * qy;
      hxPlanned = p.shortMode === 'long-only' ? qx : -d * Math.sign(b) * qx;
      state = side;
      entryBar = t;
      cur = { side, entryTime: times[t]!, exitTime: null, exitReason: null, qtyY: qy, qtyX: qx, pnl: 0, eb: t, xb: -1 };
      trades.push(cur);
      pend = [];
      if (hyPlanned !== 0) pend.push({ leg: 'y', q: hyPlanned, trade: cur });
      if (hxPlanned !== 0) pend.push({ leg: 'x', q: hxPlanned, trade: cur });
    } else if (state === 'LONG' && z >= -p.exitZ) close('exit');
    else if (state === 'LONG' && z <= -p.stopZ) close('stop');
    else if (state === 'SHORT' && z <= p.exitZ) close('exit');
    else if (state === 'SHORT' && z >= p.stopZ) close('stop');
    else if (p.maxHoldingBars !== undefined && t - entryBar >= p.maxHoldingBars) close('maxHolding');
  }
  if (cur) cur.pnl += hy * Y[n - 1]!.c + hx * X[n - 1]!.c;

  const rets = E.slice(1).map((v, i) => v / E[i]! - 1);
  const mean = rets.reduce((s, v) => s + v, 0) / rets.length;
  const sd = Math.sqrt(rets.reduce((s, v) => s + (v - mean) ** 2, 0) / (rets.length - 1));
  const B = p.legs.y.secType === 'CRYPTO' && p.legs.x.secType === 'CRYPTO' ? (365 * 1440) / 60 : (252 * 390) / 5;
  let peak = -Infinity;
  let mdd = 0;
  for (const v of E) {
    peak = Math.max(peak, v);
    mdd = Math.max(mdd, (peak - v) / peak);
  }
  const closed = trades.filter((x) => x.exitReason !== null);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    startingCash: cash0,
    finalEquity: E[n - 1],
    metrics: {
      totalReturn: E[n - 1]! / cash0 - 1,
      cagr: Math.pow(E[n - 1]! / cash0, B / (n - 1)) - 1,
      sharpe: sd > 0 ? (mean / sd) * Math.sqrt(B) : 0,
      maxDrawdown: mdd,
      trades: trades.length,
      winRate: closed.length ? closed.filter((x) => x.pnl > 0).length / closed.length : 0,
      avgHoldingBars: closed.length ? closed.reduce((s, x) => s + x.xb - x.eb, 0) / closed.length : 0,
      commissions: comm,
    },
    trades: trades.map((x) => ({ side: x.side, entryTime: iso(x.entryTime), exitTime: x.exitTime === null ? null : iso(x.exitTime), exitReason: x.exitReason, qtyY: x.qtyY, qtyX: x.qtyX, pnl: x.pnl })),
    fills: fills.map((f) => ({ ...f, time: iso(f.time) })),
    equity: E.map((v, i) => ({ time: iso(times[i]!), equity: v })),
  };
}
/** Equal to the cent for money, to 1e-9 for prices, ratios and metrics. */
function expectSame(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const money = /pnl|equity|Equity|commission|Cash/.test(path);
    const tol = money ? 0.005 : 1e-9 * Math.max(1, Math.abs(expected));
    if (Math.abs(actual - expected) > tol) throw new Error(`${path}: ${actual} != ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((v, i) => expectSame((actual as unknown[])[i], v, `${path}[${i}]`));
    return;
  }
  if (expected && typeof expected === 'object') {
    expect(Object.keys(actual as object), path).toEqual(Object.keys(expected));
    for (const k of Object.keys(expected)) expectSame((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}

/** CSV with the rows shuffled, a few bars missing on one leg, epoch-ms times on some rows. */
function messyCsv(nBars: number, ySym: string, xSym: string, seed: number): string {
  const r = rng(seed);
  const rows: string[] = [];
  for (const b of syntheticPair({ n: nBars, seed, spreadVol: 0.003 })) {
    const t = r() < 0.3 ? String(b.time) : new Date(b.time).toISOString();
    if (r() > 0.01) rows.push(`${t},${ySym},${b.y.open},${b.y.high},${b.y.low},${b.y.close},${b.y.volume}`);
    if (r() > 0.01) rows.push(`${t},${xSym},${b.x.open},${b.x.high},${b.x.low},${b.x.close},${b.x.volume}`);
    if (r() < 0.02) rows.push(`${t},OTHER,1,1,1,1,0`);
  }
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return ['time,symbol,open,high,low,close,volume', ...rows].join('\n') + '\n';
}

const crypto = (symbol: string) => ({ symbol, secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD' });
const cases: { name: string; over: Record<string, unknown>; slippageBps: number }[] = [
  {
    name: 'log, Kalman hedge',
    over: { transform: 'log', hedge: { method: 'kalman', delta: 1e-7, ve: 5e-5 }, lookback: 100, entryZ: 1.5, exitZ: 0.2, stopZ: 2.6, maxHoldingBars: 4 },
    slippageBps: 1,
  },
  {
    name: 'log, hedge, gate, maxHolding, STK per-share',
    over: { transform: 'log', lookback: 80, entryZ: 2, exitZ: 0.5, stopZ: 3.2, maxHoldingBars: 20, gate: { every: 30, lookback: 240, maxPValue: 0.1 } },
    slippageBps: 2,
  },
  {
    name: 'none, long-only, CRYPTO percent, 0.0001 increments',
    over: { transform: 'none', lookback: 50, entryZ: 1.8, exitZ: 0.3, stopZ: 3, shortMode: 'long-only', bar: '1h', legs: { y: crypto('BTC'), x: crypto('ETH') } },
    slippageBps: 5,
  },
];

describe('backtest against a naive re-implementation', () => {
  for (const c of cases) {
    it(`matches to the cent: ${c.name}`, async () => {
      const p = testParams(c.over);
      const dir = mkdtempSync(join(tmpdir(), 'tandem-naive-'));
      const file = join(dir, 'bars.csv');
      const csv = messyCsv(4000, p.legs.y.symbol, p.legs.x.symbol, 11);
      writeFileSync(file, csv);
      const run = await backtestFile({
        config: { file: 'test.yaml', name: 'naive', strategy: p, costs: { slippageBps: c.slippageBps } },
        dataFile: file,
        startingCash: 50_000,
        progress: false,
        // The naive version implements the spec's rules; the live node's rules are compared with
        // the spec path on in-hours data in backtest-live.test.ts.
        rules: 'spec',
      });
      // The diagnostics explain the run; the naive version computes only what the spec's output had.
      const { diagnostics, ...actual } = JSON.parse(backtestJson(run.result)) as { diagnostics: { entries: number }; trades: { exitReason: string | null }[] };
      expect(diagnostics.entries).toBe(actual.trades.length);
      const expected = naiveBacktest(csv, p, c.slippageBps, 50_000);
      expect(actual.trades.length).toBeGreaterThan(10);
      const reasons = new Set(actual.trades.map((t) => t.exitReason));
      expect(reasons.has('exit')).toBe(true);
      if (!c.name.includes('Kalman')) expect(reasons.has('stop')).toBe(true);
      if (c.name.startsWith('log, hedge')) expect(reasons.has('maxHolding')).toBe(true);
      expectSame(actual, expected);
    });
  }
});
