/** Johansen against statsmodels' coint_johansen on synthetic 2/3/4-series systems and macrodata. */
import { describe, expect, it } from 'vitest';
import { johansen, StatsError, type JohansenResult } from '../src/stats/index.ts';
import { expectClose, loadFixture } from './stats-helpers.ts';

/** A fixture case: statsmodels' answer (the result's shape, without nobs) and the inputs that gave it. */
type JoCase = Omit<JohansenResult, 'nobs'> & { data: string; detOrder: -1 | 0 | 1; kArDiff: number };
const fx = loadFixture<{ data: Record<string, number[][]>; cases: JoCase[] }>('johansen.json');

describe('johansen', () => {
  it('matches coint_johansen: eigenvalues, statistics, critical values, eigenvectors (up to column sign)', () => {
    expect(fx.cases.length).toBeGreaterThanOrEqual(40);
    for (const c of fx.cases) {
      const data = fx.data[c.data];
      if (!data) throw new Error(`missing ${c.data}`);
      const what = `johansen ${c.data} det=${c.detOrder} k=${c.kArDiff}`;
      const r = johansen(data, c.detOrder, c.kArDiff);
      const n = c.eigenvalues.length;
      expect(r.eigenvalues.length).toBe(n);
      for (let i = 0; i < n; i++) {
        expectClose(r.eigenvalues[i] as number, c.eigenvalues[i] as number, `${what} eig ${i}`);
        expectClose(r.traceStat[i] as number, c.traceStat[i] as number, `${what} trace ${i}`);
        expectClose(r.maxEigStat[i] as number, c.maxEigStat[i] as number, `${what} maxEig ${i}`);
        for (let k = 0; k < 3; k++) {
          expectClose(r.traceCrit[i]?.[k] as number, c.traceCrit[i]?.[k] as number, `${what} cvt ${i}`);
          expectClose(r.maxEigCrit[i]?.[k] as number, c.maxEigCrit[i]?.[k] as number, `${what} cvm ${i}`);
        }
      }
      for (let j = 0; j < n; j++) {
        // Column 0 has statsmodels' sign; the others are compared up to sign (LAPACK's choice).
        const sign = j === 0 ? 1 : Math.sign((r.eigenvectors[0]?.[j] as number) * (c.eigenvectors[0]?.[j] as number)) || 1;
        let scale = 0;
        for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(c.eigenvectors[i]?.[j] as number));
        for (let i = 0; i < n; i++) {
          const a = sign * (r.eigenvectors[i]?.[j] as number);
          const e = c.eigenvectors[i]?.[j] as number;
          // Components are compared on the scale of their eigenvector (tiny components carry no weight).
          if (Math.abs(a - e) > 1e-6 * scale) throw new Error(`${what} evec[${i}][${j}]: got ${a}, statsmodels ${e}`);
        }
      }
    }
  });

  it('rejects ragged, non-finite, constant and too-short input clearly', () => {
    expect(() => johansen([[1, 2], [3]], 0, 1)).toThrow(/row 1 has 1 values, expected 2/);
    expect(() => johansen([[1, NaN], [3, 4]], 0, 1)).toThrow(StatsError);
    const rows = Array.from({ length: 50 }, (_, i) => [Math.sin(i) + i, 5]);
    expect(() => johansen(rows, 0, 1)).toThrow(/column 1 is constant/);
    expect(() => johansen([[1, 2], [2, 3], [4, 1]], 0, 1)).toThrow(/too few/);
    expect(() => johansen(rows, 2 as 0, 1)).toThrow(/detOrder/);
  });
});
