/**
 * RollingOls / RollingZScore: exact against a from-scratch recomputation of the window, and stable
 * over millions of updates (the incremental centred sums do not drift).
 */
import { describe, expect, it } from 'vitest';
import { RollingOls, RollingZScore, StatsError } from '../src/stats/index.ts';
import { normals } from './helpers/normals.ts';

/** Exact two-pass OLS over the window, as the spec writes it. */
function exactWindow(xs: Float64Array, ys: Float64Array, end: number, W: number) {
  let mx = 0;
  let my = 0;
  for (let i = end - W + 1; i <= end; i++) {
    mx += xs[i] as number;
    my += ys[i] as number;
  }
  mx /= W;
  my /= W;
  let sxx = 0;
  let sxy = 0;
  for (let i = end - W + 1; i <= end; i++) {
    const dx = (xs[i] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((ys[i] as number) - my);
  }
  const beta = sxy / sxx;
  const alpha = my - beta * mx;
  let rss = 0;
  for (let i = end - W + 1; i <= end; i++) {
    const r = (ys[i] as number) - alpha - beta * (xs[i] as number);
    rss += r * r;
  }
  const sd = Math.sqrt(rss / (W - 1));
  const rLast = (ys[end] as number) - alpha - beta * (xs[end] as number);
  return { beta, alpha, sd, rLast, z: rLast / sd };
}

function relErr(a: number, e: number, scale = Math.abs(e)): number {
  return Math.abs(a - e) / Math.max(scale, 1e-300);
}

/** Log prices of two tightly related assets: x a random walk near ln(30), y = 0.3 + 0.98x + AR noise. */
function makePair(n: number, seed: number) {
  const g = normals(seed);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let lx = Math.log(30);
  let u = 0;
  for (let i = 0; i < n; i++) {
    lx += 0.002 * g();
    u = 0.7 * u + 0.0005 * g();
    xs[i] = lx;
    ys[i] = 0.3 + 0.98 * lx + u;
  }
  return { xs, ys };
}

describe('RollingOls', () => {
  it('matches an exact recomputation of the window at every bar', () => {
    const W = 50;
    const { xs, ys } = makePair(5000, 7);
    const r = new RollingOls(W);
    let checked = 0;
    for (let t = 0; t < xs.length; t++) {
      r.push(xs[t] as number, ys[t] as number);
      expect(r.ready).toBe(t >= W - 1);
      if (!r.ready) continue;
      const e = exactWindow(xs, ys, t, W);
      expect(relErr(r.beta, e.beta)).toBeLessThan(1e-9);
      expect(relErr(r.alpha, e.alpha, Math.abs(r.meanY) + Math.abs(e.beta * r.meanX))).toBeLessThan(1e-9);
      expect(relErr(r.residualSd(), e.sd)).toBeLessThan(1e-9);
      expect(relErr(r.latestResidual, e.rLast, e.sd)).toBeLessThan(1e-9);
      expect(Math.abs(r.latestZ - e.z)).toBeLessThan(1e-8);
      checked++;
    }
    expect(checked).toBe(5000 - W + 1);
  });

  it('stays within 1e-9 of exact recomputation over 5 million updates', () => {
    const N = 5_000_000;
    const W = 120;
    const { xs, ys } = makePair(N, 11);
    const r = new RollingOls(W);
    const worst = { beta: 0, alpha: 0, sd: 0, residual: 0, z: 0 };
    let checks = 0;
    for (let t = 0; t < N; t++) {
      r.push(xs[t] as number, ys[t] as number);
      if (t >= W - 1 && (t % 49_999 === 0 || t === N - 1)) {
        const e = exactWindow(xs, ys, t, W);
        worst.beta = Math.max(worst.beta, relErr(r.beta, e.beta));
        // alpha = mean(y) − beta·mean(x) is a difference of level-sized terms: measure it on that scale.
        worst.alpha = Math.max(worst.alpha, relErr(r.alpha, e.alpha, Math.abs(r.meanY) + Math.abs(e.beta * r.meanX)));
        worst.sd = Math.max(worst.sd, relErr(r.residualSd(), e.sd));
        worst.residual = Math.max(worst.residual, relErr(r.latestResidual, e.rLast, e.sd));
        worst.z = Math.max(worst.z, Math.abs(r.latestZ - e.z));
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(90);
    for (const [k, v] of Object.entries(worst)) expect(v, k).toBeLessThan(1e-9);
  });

  it('rejects non-finite input and reports a constant window or a perfect fit clearly', () => {
    const r = new RollingOls(3);
    expect(() => r.push(NaN, 1)).toThrow(StatsError);
    expect(() => r.push(1, Infinity)).toThrow(/finite/);
    r.push(1, 2);
    expect(() => r.residualSd()).toThrow(/need 3/);
    r.push(1, 3);
    r.push(1, 4);
    expect(r.ready).toBe(true);
    expect(r.isDegenerate).toBe(true);
    expect(() => r.beta).toThrow(/x is constant/);
    const p = new RollingOls(4);
    for (let i = 0; i < 6; i++) p.push(i, 2 * i + 1);
    expect(p.beta).toBeCloseTo(2, 12);
    expect(p.isDegenerate).toBe(true);
    expect(() => p.latestZ).toThrow(/fitted exactly/);
    expect(() => new RollingOls(2)).toThrow(/window/);
  });
});

describe('RollingZScore', () => {
  it('matches exact mean/sd/z over 5 million updates', () => {
    const N = 5_000_000;
    const W = 200;
    const g = normals(3);
    const vs = new Float64Array(N);
    let level = 1000;
    for (let i = 0; i < N; i++) {
      level += 0.01 * g();
      vs[i] = level + 0.5 * g();
    }
    const z = new RollingZScore(W);
    let worst = 0;
    let checks = 0;
    for (let t = 0; t < N; t++) {
      z.push(vs[t] as number);
      if (t >= W - 1 && (t % 33_333 === 0 || t === N - 1)) {
        let m = 0;
        for (let i = t - W + 1; i <= t; i++) m += vs[i] as number;
        m /= W;
        let s = 0;
        for (let i = t - W + 1; i <= t; i++) s += ((vs[i] as number) - m) ** 2;
        const sd = Math.sqrt(s / (W - 1));
        worst = Math.max(worst, relErr(z.mean, m), relErr(z.sd(), sd), Math.abs(z.zScore() - ((vs[t] as number) - m) / sd));
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(100);
    expect(worst).toBeLessThan(1e-9);
  });

  it('throws on non-finite values and a constant window', () => {
    const z = new RollingZScore(3);
    expect(() => z.push(NaN)).toThrow(StatsError);
    z.push(5);
    z.push(5);
    z.push(5);
    expect(() => z.zScore()).toThrow(/constant/);
  });
});
