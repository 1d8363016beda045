/**
 * Deterministic synthetic pairs for tests and benchmarks: x a random walk, y = a + b·x + an
 * Ornstein–Uhlenbeck spread (cointegrated), both in log space; opens near the previous close.
 */
import type { PairBar } from '../../src/strategies/types.ts';

/** mulberry32: a tiny seeded PRNG, so every run sees the same data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): () => number {
  return () => {
    const u = Math.max(r(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  };
}

export interface SyntheticOptions {
  n: number;
  seed?: number;
  start?: number;
  stepMs?: number;
  beta?: number;
  /** OU mean reversion per bar (0..1) and noise of the spread. */
  kappa?: number;
  spreadVol?: number;
  xVol?: number;
}

export function* syntheticPair(o: SyntheticOptions): Generator<PairBar> {
  const g = gaussian(rng(o.seed ?? 1));
  const beta = o.beta ?? 1.2;
  const kappa = o.kappa ?? 0.05;
  const sv = o.spreadVol ?? 0.002;
  const xv = o.xVol ?? 0.001;
  const step = o.stepMs ?? 300_000;
  let t = o.start ?? Date.UTC(2024, 0, 2, 14, 30);
  let lx = Math.log(50);
  let s = 0;
  let prevX = 50;
  let prevY = Math.exp(0.3 + beta * lx);
  for (let i = 0; i < o.n; i++) {
    lx += xv * g();
    s += -kappa * s + sv * g();
    const cx = Math.exp(lx);
    const cy = Math.exp(0.3 + beta * lx + s);
    const ox = prevX * (1 + 0.0002 * g());
    const oy = prevY * (1 + 0.0002 * g());
    yield {
      time: t,
      y: { open: oy, high: Math.max(oy, cy), low: Math.min(oy, cy), close: cy, volume: 1000 },
      x: { open: ox, high: Math.max(ox, cx), low: Math.min(ox, cx), close: cx, volume: 1000 },
    };
    prevX = cx;
    prevY = cy;
    t += step;
  }
}

/** CSV text of a pair (rows per symbol), for loader and CLI tests. */
export function pairCsv(bars: Iterable<PairBar>, ySym: string, xSym: string): string {
  const rows = ['time,symbol,open,high,low,close,volume'];
  for (const b of bars) {
    const t = new Date(b.time).toISOString();
    rows.push(`${t},${ySym},${b.y.open},${b.y.high},${b.y.low},${b.y.close},${b.y.volume}`);
    rows.push(`${t},${xSym},${b.x.open},${b.x.high},${b.x.low},${b.x.close},${b.x.volume}`);
  }
  return rows.join('\n') + '\n';
}
