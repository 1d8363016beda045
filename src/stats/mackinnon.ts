/**
 * MacKinnon's approximate p-values (1994 response surfaces) and critical values (2010 tables),
 * exactly as statsmodels' `mackinnonp` and `mackinnoncrit` compute them.
 */
import { StatsError } from './errors.ts';
import { normalCdf } from './normal.ts';
import { TAU_2010, TAU_LARGEP, TAU_MAX, TAU_MIN, TAU_SMALLP, TAU_STAR, type Regression } from './tables.ts';

export type { Regression };
export interface CriticalValues {
  '1%': number;
  '5%': number;
  '10%': number;
}

function checkRegression(regression: unknown): asserts regression is Regression {
  if (regression !== 'n' && regression !== 'c' && regression !== 'ct') {
    throw new StatsError('invalid-argument', `regression must be 'n', 'c' or 'ct', got ${String(regression)}`);
  }
}

function checkN(n: unknown, max: number, regression: Regression): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new StatsError(
      'invalid-argument',
      `n (number of I(1) series) must be an integer from 1 to ${max} for regression '${regression}', got ${String(n)}`,
    );
  }
}

/**
 * MacKinnon (1994) approximate p-value of a Dickey-Fuller / Engle-Granger tau statistic.
 * `n` is the number of I(1) series: 1 for ADF, 2 for a pair.
 */
export function mackinnonp(stat: number, opts: { regression: Regression; n: number }): number {
  const { regression, n } = opts;
  checkRegression(regression);
  checkN(n, TAU_MAX[regression].length, regression);
  if (Number.isNaN(stat)) throw new StatsError('non-finite', 'mackinnonp: the statistic is NaN');
  const i = n - 1;
  if (stat > (TAU_MAX[regression][i] as number)) return 1.0;
  if (stat < (TAU_MIN[regression][i] as number)) return 0.0;
  const coef = (stat <= (TAU_STAR[regression][i] as number) ? TAU_SMALLP : TAU_LARGEP)[regression][i] as readonly number[];
  // Polynomial in increasing powers, by Horner (as numpy.polyval on the reversed coefficients).
  let p = 0;
  for (let k = coef.length - 1; k >= 0; k--) p = p * stat + (coef[k] as number);
  return normalCdf(p);
}

/**
 * MacKinnon (2010) critical values at 1%, 5%, 10%: b0 + b1/T + b2/T² + b3/T³ with T = nobs
 * (the asymptotic b0 when nobs is omitted or Infinity).
 */
export function mackinnoncrit(opts: { regression: Regression; n: number; nobs?: number }): CriticalValues {
  const { regression, n } = opts;
  const nobs = opts.nobs ?? Infinity;
  checkRegression(regression);
  checkN(n, TAU_2010[regression].length, regression);
  if (!(nobs > 0)) throw new StatsError('invalid-argument', `mackinnoncrit: nobs must be positive, got ${String(nobs)}`);
  const table = TAU_2010[regression][n - 1] as readonly (readonly number[])[];
  const inv = 1 / nobs;
  const cv = (row: readonly number[]): number => {
    if (nobs === Infinity) return row[0] as number;
    let v = 0;
    for (let k = row.length - 1; k >= 0; k--) v = v * inv + (row[k] as number);
    return v;
  };
  return { '1%': cv(table[0] as readonly number[]), '5%': cv(table[1] as readonly number[]), '10%': cv(table[2] as readonly number[]) };
}
