/**
 * The seeded market: every price is a pure function of (seed, instrument, time).
 *
 * Time is cut into steps of STEP_MS. A Brownian motion per key is defined on the whole step grid by
 * a dyadic Brownian-bridge tree whose node noises are hashes of (seed, key, node), so its value at any
 * step is computed in ~31 hash evaluations without simulating the past, and a run of consecutive
 * steps costs O(run length). Quotes, trades and history bars all read the same path, so a bar from
 * /iserver/marketdata/history agrees with the ticks shown live at those times.
 *
 * Stocks do not trade outside regular hours: their quote freezes at the last close and bars exist
 * only for minutes inside regular trading hours. Crypto prices move around the clock (the PAXOS
 * order window only affects orders).
 */
import { gauss4, hash4, hashString, unit } from './rng.ts';
import { isMarketOpen, lastOpenInstant, nyParts, nyTimeOnDay } from './hours.ts';
import type { Instrument, InstrumentTable } from './instruments.ts';

export const STEP_MS = 2000;
const DEPTH = 31;
const SPAN = 2 ** DEPTH;
const YEAR_SEC = 365.25 * 86_400;
/** Random walks are anchored at 2026-01-01T00:00Z: there every instrument sits at its base price. */
const ANCHOR_STEP = Math.floor(Date.UTC(2026, 0, 1) / STEP_MS);

/** Brownian motion with unit variance per step, evaluated on the integer step grid. */
class BrownianTree {
  constructor(private readonly seed: number, private readonly key: number) {}

  private noise(point: number): number {
    return gauss4(this.seed, this.key, point, 0x7a11);
  }

  private rootRight(): number {
    return Math.sqrt(SPAN) * gauss4(this.seed, this.key, -1, 0x7a11);
  }

  at(point: number): number {
    let l = 0;
    let r = SPAN;
    let wl = 0;
    let wr = this.rootRight();
    for (;;) {
      if (point === l) return wl;
      if (point === r) return wr;
      const mid = l + (r - l) / 2;
      const wm = (wl + wr) / 2 + Math.sqrt((r - l) / 4) * this.noise(mid);
      if (point < mid) { r = mid; wr = wm; } else { l = mid; wl = wm; }
    }
  }

  /** Values at steps from, from+1, ..., from+n-1. */
  range(from: number, n: number): Float64Array {
    const out = new Float64Array(n);
    const to = from + n - 1;
    const fill = (l: number, r: number, wl: number, wr: number): void => {
      if (r < from || l > to) return;
      if (r - l === 1) {
        if (l >= from) out[l - from] = wl;
        if (r <= to) out[r - from] = wr;
        return;
      }
      const mid = l + (r - l) / 2;
      const wm = (wl + wr) / 2 + Math.sqrt((r - l) / 4) * this.noise(mid);
      fill(l, mid, wl, wm);
      fill(mid, r, wm, wr);
    };
    fill(0, SPAN, 0, this.rootRight());
    return out;
  }
}

export interface Quote {
  conid: number;
  /** Simulated time of the quote (start of its price step). */
  time: number;
  last: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  lastSize: number;
  /** True when the instrument's market is open at this time (stocks) — crypto quotes always live. */
  open: boolean;
}

export interface Bar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/** A piecewise-linear price override: points sorted by time; outside the points the model applies. */
interface Override {
  points: { t: number; price: number }[];
}

function roundTo(x: number, tick: number): number {
  return Math.round(x / tick) * tick;
}

export function formatPrice(x: number, tick: number): string {
  const decimals = tick >= 0.01 ? 2 : Math.max(2, Math.ceil(-Math.log10(tick)));
  return x.toFixed(decimals);
}

export class Market {
  private readonly trees = new Map<string, BrownianTree>();
  private readonly minuteCache = new Map<string, Bar | null>();
  private readonly overrides = new Map<number, Override>();

  constructor(readonly instruments: InstrumentTable, readonly seed: number) {}

  private tree(key: string): BrownianTree {
    let t = this.trees.get(key);
    if (!t) {
      t = new BrownianTree(this.seed, hashString(key));
      this.trees.set(key, t);
    }
    return t;
  }

  /** Model (un-overridden) mid prices at consecutive steps. */
  private modelMids(inst: Instrument, fromStep: number, n: number): Float64Array {
    const logs = new Float64Array(n).fill(Math.log(inst.base));
    const stepSec = STEP_MS / 1000;
    for (const term of inst.terms) {
      const tree = this.tree(term.key);
      if (term.kind === 'rw') {
        const sigma = term.scale * Math.sqrt(stepSec / YEAR_SEC);
        const anchor = tree.at(ANCHOR_STEP);
        const w = tree.range(fromStep, n);
        for (let i = 0; i < n; i++) logs[i]! += sigma * (w[i]! - anchor);
      } else {
        const lag = Math.max(1, Math.round((term.windowSec ?? 86_400) / stepSec));
        const w = tree.range(fromStep - lag, n + lag);
        const k = term.scale / Math.sqrt(lag);
        for (let i = 0; i < n; i++) logs[i]! += k * (w[i + lag]! - w[i]!);
      }
    }
    for (let i = 0; i < n; i++) logs[i] = Math.exp(logs[i]!);
    return logs;
  }

  private mids(inst: Instrument, fromStep: number, n: number): Float64Array {
    const m = this.modelMids(inst, fromStep, n);
    const ov = this.overrides.get(inst.conid);
    if (ov && ov.points.length) {
      const pts = ov.points;
      for (let i = 0; i < n; i++) {
        const t = (fromStep + i) * STEP_MS;
        if (t < pts[0]!.t) continue;
        let p = pts[pts.length - 1]!.price;
        for (let j = 0; j < pts.length - 1; j++) {
          const a = pts[j]!;
          const b = pts[j + 1]!;
          if (t >= a.t && t < b.t) { p = a.price + ((b.price - a.price) * (t - a.t)) / (b.t - a.t); break; }
        }
        m[i] = p;
      }
    }
    return m;
  }

  private stepVolume(inst: Instrument, step: number): number {
    const u = unit(hash4(this.seed, inst.conid, step, 0x701));
    const v = inst.volumePerStep * (0.3 + 1.4 * u);
    return inst.secType === 'CRYPTO' ? Math.round(v * 1e4) / 1e4 : Math.max(1, Math.round(v));
  }

  lastPriceAtStep(inst: Instrument, step: number): number {
    return roundTo(this.mids(inst, step, 1)[0]!, inst.tick);
  }

  /** The quote in force at simulated time `t` (frozen at the last close while a stock market is shut). */
  quote(conid: number, t: number): Quote | undefined {
    const inst = this.instruments.get(conid);
    if (!inst) return undefined;
    const open = inst.market === 'crypto' || isMarketOpen('stock', t);
    const eff = open ? t : lastOpenInstant('stock', t);
    const step = Math.floor(eff / STEP_MS);
    const mid = this.mids(inst, step, 1)[0]!;
    const half = Math.max(inst.tick / 2, (mid * inst.halfSpreadBps) / 10_000);
    const bid = Math.floor((mid - half) / inst.tick + 1e-9) * inst.tick;
    const ask = Math.max(bid + inst.tick, Math.ceil((mid + half) / inst.tick - 1e-9) * inst.tick);
    const h = hash4(this.seed, conid, step, 0x512e);
    const sizeFactor = 0.4 + 1.2 * unit(h);
    const roundSize = (x: number) => (inst.secType === 'CRYPTO' ? Math.round(x * 1e4) / 1e4 : Math.max(1, Math.round(x / 100) * 100));
    return {
      conid, time: step * STEP_MS, last: roundTo(mid, inst.tick), bid: roundTo(bid, inst.tick), ask: roundTo(ask, inst.tick),
      bidSize: roundSize(inst.quoteSize * sizeFactor), askSize: roundSize(inst.quoteSize * (2 - sizeFactor)),
      lastSize: inst.secType === 'CRYPTO' ? Math.round((this.stepVolume(inst, step) / 4) * 1e4) / 1e4 : Math.max(1, Math.round(this.stepVolume(inst, step) / 10)), open,
    };
  }

  /** The one-minute bar starting at `minuteStart` (ms, aligned), or null when no trading happened in it. */
  minuteBar(inst: Instrument, minuteStart: number): Bar | null {
    const key = `${inst.conid}:${minuteStart}`;
    const cached = this.minuteCache.get(key);
    if (cached !== undefined) return cached;
    let bar: Bar | null = null;
    if (inst.market === 'crypto' || isMarketOpen('stock', minuteStart)) {
      const from = Math.floor(minuteStart / STEP_MS);
      const n = Math.ceil(60_000 / STEP_MS);
      const mids = this.mids(inst, from, n);
      let h = -Infinity;
      let l = Infinity;
      let v = 0;
      for (let i = 0; i < n; i++) {
        const p = roundTo(mids[i]!, inst.tick);
        if (p > h) h = p;
        if (p < l) l = p;
        v += this.stepVolume(inst, from + i);
      }
      bar = { t: minuteStart, o: roundTo(mids[0]!, inst.tick), h, l, c: roundTo(mids[n - 1]!, inst.tick), v };
    }
    if (this.minuteCache.size > 200_000) this.minuteCache.clear();
    this.minuteCache.set(key, bar);
    return bar;
  }

  /** Aggregate of the minute bars in [from, to) (ms, minute-aligned), or null when nothing traded. */
  aggregate(inst: Instrument, from: number, to: number, upTo?: number): Bar | null {
    let out: Bar | null = null;
    for (let m = from; m < to; m += 60_000) {
      if (upTo !== undefined && m > upTo) break;
      const b = this.minuteBar(inst, m);
      if (!b) continue;
      if (!out) out = { ...b };
      else {
        out.h = Math.max(out.h, b.h);
        out.l = Math.min(out.l, b.l);
        out.c = b.c;
        out.v += b.v;
      }
    }
    return out;
  }

  /** Day statistics for snapshot fields: open, high, low, volume of the current session, prior close. */
  dayStats(conid: number, t: number): { open: number; high: number; low: number; volume: number; prevClose: number } | undefined {
    const inst = this.instruments.get(conid);
    if (!inst) return undefined;
    const q = this.quote(conid, t)!;
    const eff = inst.market === 'crypto' ? t : lastOpenInstant('stock', t);
    const dayStart = inst.market === 'crypto' ? nyParts(eff).midnightUtc : nyTimeOnDay(eff, 9, 30);
    const nowMinute = Math.floor(eff / 60_000) * 60_000;
    const agg = this.aggregate(inst, dayStart, nowMinute + 60_000, nowMinute - 60_000);
    // Prior close: the last regular-hours price before this session (stocks), the price at New York midnight (crypto).
    const prevInstant = inst.market === 'crypto' ? dayStart - 1 : lastOpenInstant('stock', dayStart - 1);
    const prevClose = this.lastPriceAtStep(inst, Math.floor(prevInstant / STEP_MS));
    if (!agg) return { open: q.last, high: q.last, low: q.last, volume: 0, prevClose };
    return { open: agg.o, high: Math.max(agg.h, q.last), low: Math.min(agg.l, q.last), volume: agg.v, prevClose };
  }

  setOverride(conid: number, points: { t: number; price: number }[]): void {
    this.overrides.set(conid, { points: [...points].sort((a, b) => a.t - b.t) });
    this.minuteCache.clear();
  }

  clearOverrides(): void {
    this.overrides.clear();
    this.minuteCache.clear();
  }
}
