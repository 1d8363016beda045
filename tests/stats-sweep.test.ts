/**
 * Randomized sweep against statsmodels: 300 pairs of random length (30 … 3,000), spread persistence
 * (φ from 0 to 1, i.e. from strongly cointegrated to not at all), intercepts, hedge ratios, trend and
 * lag-selection options. The series are rebuilt here from their seeds with exact arithmetic
 * (tools/gen_stats_fixtures.py uses the same generator), so the fixture holds only the answers.
 */
import { describe, expect, it } from 'vitest';
import { adf, engleGranger, type Regression } from '../src/stats/index.ts';
import { expectClose, loadFixture, type Num } from './stats-helpers.ts';

interface SweepCase {
  seed: number;
  n: number;
  phi: number;
  a: number;
  b: number;
  trend: 'c' | 'ct';
  autoLag: 'aic' | 'bic' | null;
  stat: Num;
  pValue: Num;
  criticalValues: Num[];
  adf: { regression: Regression; stat: Num; pValue: Num; usedLag: number; nobs: number; icBest: Num };
  check: number[];
}

/** xorshift32 uniforms and Irwin-Hall normals: only exact operations, identical in Python. */
function sweepPair(seed: number, n: number, phi: number, a: number, b: number): { y: Float64Array; x: Float64Array } {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    return s / 4294967296;
  };
  const normal = (): number => {
    let t = 0;
    for (let k = 0; k < 12; k++) t += uniform();
    return t - 6;
  };
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let lx = 100;
  let u = 0;
  for (let i = 0; i < n; i++) {
    lx = lx + normal();
    u = phi * u + normal();
    x[i] = lx;
    y[i] = a + b * lx + u;
  }
  return { y, x };
}

const fx = loadFixture<{ cases: SweepCase[] }>('sweep.json');

describe('randomized sweep against statsmodels', () => {
  it('rebuilds the very series statsmodels saw, then agrees on coint and adfuller', () => {
    expect(fx.cases.length).toBe(300);
    for (const [k, c] of fx.cases.entries()) {
      const { y, x } = sweepPair(c.seed, c.n, c.phi, c.a, c.b);
      expect([y[0], y[c.n - 1], x[c.n - 1]], `case ${k} series`).toEqual(c.check);
      const what = `case ${k} (n=${c.n} φ=${c.phi} trend=${c.trend} autolag=${c.autoLag})`;
      const r = engleGranger(y, x, { trend: c.trend, autoLag: c.autoLag });
      expectClose(r.stat, c.stat, `${what} stat`);
      expectClose(r.pValue, c.pValue, `${what} pValue`);
      expectClose(r.criticalValues['1%'], c.criticalValues[0] as Num, `${what} crit 1%`);
      expectClose(r.criticalValues['10%'], c.criticalValues[2] as Num, `${what} crit 10%`);
      const autoLag = c.autoLag ?? 'aic';
      const a = adf(y, { regression: c.adf.regression, autoLag });
      expect(a.usedLag, `${what} adf usedLag`).toBe(c.adf.usedLag);
      expect(a.nobs, `${what} adf nobs`).toBe(c.adf.nobs);
      expectClose(a.stat, c.adf.stat, `${what} adf stat`);
      expectClose(a.pValue, c.adf.pValue, `${what} adf pValue`);
      expectClose(a.icBest ?? NaN, c.adf.icBest, `${what} adf icBest`);
    }
  });
});
