/**
 * Bars whose spread z-score (OLS hedge, transform none) takes chosen values: a deterministic
 * warm-up, then for each target z the y close is solved by bisection against a naive two-pass
 * recomputation of the spec's z. Lets a test read like "z = 2.5 → SHORT, z = 0.3 → exit".
 */
import type { PairBar } from '../../src/strategies/types.ts';

/** The spec's OLS z of the last point, recomputed from scratch (two passes, no shortcuts). */
export function naiveOlsZ(px: readonly number[], py: readonly number[]): { z: number; beta: number; alpha: number } {
  const n = px.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += px[i]!;
    my += py[i]!;
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (px[i]! - mx) ** 2;
    sxy += (px[i]! - mx) * (py[i]! - my);
  }
  const beta = sxy / sxx;
  const alpha = my - beta * mx;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (py[i]! - alpha - beta * px[i]!) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return { z: (py[n - 1]! - alpha - beta * px[n - 1]!) / sd, beta, alpha };
}

export const xAt = (i: number): number => 100 + 5 * Math.sin(i / 3) + 0.05 * i;
/** Deterministic noise in [−0.5, 0.5) by index (an integer hash), so ADF lag regressions stay regular. */
const noise = (i: number): number => {
  let h = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296 - 0.5;
};
const warmY = (i: number): number => 10 + 2 * xAt(i) + noise(i);

export interface ZBars {
  bars: PairBar[];
  /** z actually reached at each bar (null during the warm-up). */
  z: (number | null)[];
  /** Index of the first targeted bar (= lookback − 1 + warmExtra). */
  first: number;
}

/**
 * `warm` bars of plain data, then one bar per target. Lookback W applies to the z computation.
 * Opens equal the previous close (fills are easy to check by hand).
 */
export function zBars(W: number, targets: number[], opts: { warm?: number; start?: number; stepMs?: number } = {}): ZBars {
  const warm = opts.warm ?? W - 1;
  const start = opts.start ?? Date.UTC(2024, 0, 2, 14, 30);
  const step = opts.stepMs ?? 300_000;
  const px: number[] = [];
  const py: number[] = [];
  const z: (number | null)[] = [];
  for (let i = 0; i < warm; i++) {
    px.push(xAt(i));
    py.push(warmY(i));
    z.push(i >= W - 1 ? naiveOlsZ(px.slice(-W), py.slice(-W)).z : null);
  }
  for (const target of targets) {
    const i = px.length;
    const x = xAt(i);
    px.push(x);
    py.push(0);
    const f = (y: number): number => {
      py[i] = y;
      return naiveOlsZ(px.slice(-W), py.slice(-W)).z - target;
    };
    let lo = warmY(i) - 200;
    let hi = warmY(i) + 200;
    if (f(lo) > 0 || f(hi) < 0) throw new Error(`z target ${target} at bar ${i} is out of reach`);
    for (let k = 0; k < 200; k++) {
      const mid = (lo + hi) / 2;
      if (f(mid) < 0) lo = mid;
      else hi = mid;
    }
    py[i] = (lo + hi) / 2;
    z.push(naiveOlsZ(px.slice(-W), py.slice(-W)).z);
  }
  const bars: PairBar[] = px.map((x, i) => {
    const y = py[i]!;
    const oy = i > 0 ? py[i - 1]! : y;
    const ox = i > 0 ? px[i - 1]! : x;
    return {
      time: start + i * step,
      y: { open: oy, high: Math.max(oy, y), low: Math.min(oy, y), close: y, volume: 100 },
      x: { open: ox, high: Math.max(ox, x), low: Math.min(ox, x), close: x, volume: 100 },
    };
  });
  return { bars, z, first: warm };
}
