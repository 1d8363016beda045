/**
 * Engle-Granger two-step cointegration test, matching statsmodels' `coint(y0, y1)`:
 * regress y on x with a constant (and trend), then ADF without deterministic terms on the
 * residuals; MacKinnon p-value and critical values for N = 2 series.
 */
import { adfCore, checkAutoLag, type AutoLag } from './adf.ts';
import { StatsError } from './errors.ts';
import { mackinnoncrit, mackinnonp, type CriticalValues } from './mackinnon.ts';
import { olsUnchecked, olsWithTrend } from './ols.ts';
import { minLength, notConstant, sameLength, toFinite } from './validate.ts';

export interface EngleGrangerOptions {
  /** Deterministic terms of the first-stage regression: 'c' (default) or 'ct'. */
  trend?: 'c' | 'ct';
  maxLag?: number;
  autoLag?: AutoLag;
}

export interface EngleGrangerResult {
  stat: number;
  pValue: number;
  criticalValues: CriticalValues;
  /** First-stage intercept and hedge ratio: y ≈ alpha + beta·x (+ trend term when trend = 'ct'). */
  alpha: number;
  beta: number;
  /** Lag used by the residual ADF (−1 when the series are perfectly collinear and no ADF was run). */
  usedLag: number;
  /** Rows of the residual ADF regression (0 when none was run). */
  nobs: number;
}

const SQRTEPS = Math.sqrt(2.220446049250313e-16);

export function engleGranger(y: ArrayLike<number>, x: ArrayLike<number>, opts: EngleGrangerOptions = {}): EngleGrangerResult {
  const yy = toFinite(y, 'engleGranger: y');
  const xx = toFinite(x, 'engleGranger: x');
  sameLength(yy, xx, 'engleGranger: y', 'x');
  const trend = opts.trend ?? 'c';
  if (trend !== 'c' && trend !== 'ct') {
    throw new StatsError('invalid-argument', `engleGranger: trend must be 'c' or 'ct', got ${String(trend)}`);
  }
  const autoLag = checkAutoLag(opts.autoLag, 'engleGranger');
  minLength(yy, 6, 'engleGranger: y', 'the Engle-Granger test');
  notConstant(yy, 'engleGranger: y');
  notConstant(xx, 'engleGranger: x');
  return engleGrangerCore(yy, xx, trend, opts.maxLag, autoLag);
}

/** Engle-Granger on validated inputs (finite, same length, not constant). */
export function engleGrangerCore(
  y: Float64Array,
  x: Float64Array,
  trend: 'c' | 'ct',
  maxLag: number | undefined,
  autoLag: AutoLag,
): EngleGrangerResult {
  const n = y.length;
  const fit = trend === 'c' ? olsUnchecked(y, x) : olsWithTrend(y, x);
  const r = fit.residuals;
  let my = 0;
  for (let i = 0; i < n; i++) my += y[i] as number;
  my /= n;
  let tss = 0;
  let rss = 0;
  for (let i = 0; i < n; i++) {
    const dy = (y[i] as number) - my;
    tss += dy * dy;
    rss += (r[i] as number) ** 2;
  }
  const rsquared = 1 - rss / tss;
  let stat = -Infinity;
  let usedLag = -1;
  let nobs = 0;
  if (rsquared < 1 - 100 * SQRTEPS) {
    const res = adfCore(r, 'n', maxLag, autoLag, 'engleGranger: residuals of y on x');
    stat = res.stat;
    usedLag = res.usedLag;
    nobs = res.nobs;
  }
  // else: y and x are (almost) perfectly collinear; statsmodels reports −inf and p = 0.
  return {
    stat,
    pValue: mackinnonp(stat, { regression: trend, n: 2 }),
    criticalValues: mackinnoncrit({ regression: trend, n: 2, nobs: n - 1 }),
    alpha: fit.alpha,
    beta: fit.beta,
    usedLag,
    nobs,
  };
}

export interface PairScanResult extends EngleGrangerResult {
  /** Index of the dependent series (y). */
  i: number;
  /** Index of the regressor series (x). */
  j: number;
}

/**
 * Engle-Granger on every pair (i < j, y = series[i], x = series[j]) of a universe of aligned series.
 * Each series is validated once (finite, not constant, all the same length; errors name the
 * series index), then the pairs are tested; results come in order (0,1), (0,2), …, (1,2), ….
 */
export function scanPairs(series: ArrayLike<number>[], opts: EngleGrangerOptions = {}): PairScanResult[] {
  if (!Array.isArray(series)) throw new StatsError('invalid-argument', 'scanPairs: expected an array of series');
  const trend = opts.trend ?? 'c';
  if (trend !== 'c' && trend !== 'ct') {
    throw new StatsError('invalid-argument', `scanPairs: trend must be 'c' or 'ct', got ${String(trend)}`);
  }
  const autoLag = checkAutoLag(opts.autoLag, 'scanPairs');
  const data = series.map((s, k) => toFinite(s, `scanPairs: series ${k}`));
  data.forEach((s, k) => {
    sameLength(s, data[0] as Float64Array, `scanPairs: series ${k}`, 'series 0');
    minLength(s, 6, `scanPairs: series ${k}`, 'the Engle-Granger test');
    notConstant(s, `scanPairs: series ${k}`);
  });
  const out: PairScanResult[] = [];
  for (let i = 0; i < data.length; i++) {
    for (let j = i + 1; j < data.length; j++) {
      const r = engleGrangerCore(data[i] as Float64Array, data[j] as Float64Array, trend, opts.maxLag, autoLag);
      out.push({ i, j, ...r });
    }
  }
  return out;
}
