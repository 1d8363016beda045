/**
 * Augmented Dickey-Fuller test, matching statsmodels' `adfuller` figure for figure.
 *
 * Regression (statsmodels' layout): Δx_t = [trend terms] + γ·x_{t−1} + Σ_{j=1..L} φ_j·Δx_{t−j} + ε_t,
 * statistic = t-value of γ. The autolag search fits every L = 0 … maxLag on the rows left after
 * trimming for maxLag, picks the smallest AIC/BIC (ties: fewest lags), then refits with the chosen
 * L on the longer sample. See docs/stats.md.
 *
 * Speed: instead of refitting maxLag + 1 regressions, the Gram matrix [X y]ᵀ[X y] of the largest
 * one is built once in O(n·maxLag) (the lag columns are shifts of one series, so their cross
 * products follow from the first row by an O(1) update along each diagonal) and factored once; the
 * residual sum of squares of every nested lag count is read off the Cholesky factor.
 */
import { StatsError } from './errors.ts';
import { choleskyInPlace } from './linalg.ts';
import { mackinnoncrit, mackinnonp, type CriticalValues, type Regression } from './mackinnon.ts';
import { minLength, nonNegativeInt, notConstant, toFinite } from './validate.ts';

export type AutoLag = 'aic' | 'bic' | null;

export interface AdfOptions {
  /** Deterministic terms: 'n' none, 'c' constant (default), 'ct' constant and linear trend. */
  regression?: Regression;
  /** Largest lag of Δx; default ceil(12·(n/100)^¼) capped at n//2 − ntrend − 1 (statsmodels' rule). */
  maxLag?: number;
  /** Lag selection: 'aic' (default), 'bic', or null to use maxLag lags. */
  autoLag?: AutoLag;
}

export interface AdfResult {
  stat: number;
  pValue: number;
  usedLag: number;
  /** Rows of the final regression: n − 1 − usedLag. */
  nobs: number;
  criticalValues: CriticalValues;
  /** Best information criterion of the lag search (absent when autoLag is null). */
  icBest?: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

function ntrendOf(regression: Regression): 0 | 1 | 2 {
  return regression === 'n' ? 0 : regression === 'c' ? 1 : 2;
}

/** statsmodels' default maximum lag for a series of n points. */
export function defaultMaxLag(n: number, regression: Regression): number {
  const ntrend = ntrendOf(regression);
  const ml = Math.ceil(12 * Math.pow(n / 100, 1 / 4));
  return Math.min(Math.floor(n / 2) - ntrend - 1, ml);
}

export function adf(series: ArrayLike<number>, opts: AdfOptions = {}): AdfResult {
  const x = toFinite(series, 'adf: series');
  const regression = opts.regression ?? 'c';
  if (regression !== 'n' && regression !== 'c' && regression !== 'ct') {
    throw new StatsError('invalid-argument', `adf: regression must be 'n', 'c' or 'ct', got ${String(regression)}`);
  }
  const autoLag = checkAutoLag(opts.autoLag, 'adf');
  minLength(x, 4, 'adf: series', 'the ADF regression');
  notConstant(x, 'adf: series');
  return adfCore(x, regression, opts.maxLag, autoLag, 'adf: series');
}

export function checkAutoLag(v: unknown, who: string): AutoLag {
  if (v === undefined) return 'aic';
  if (v === null || v === 'aic' || v === 'bic') return v;
  if (v === 'AIC' || v === 'BIC') return v.toLowerCase() as 'aic' | 'bic';
  throw new StatsError('invalid-argument', `${who}: autoLag must be 'aic', 'bic' or null, got ${String(v)}`);
}

/** ADF on an already validated series (finite, not constant). */
export function adfCore(
  x: Float64Array,
  regression: Regression,
  maxLagOpt: number | undefined,
  autoLag: AutoLag,
  what: string,
): AdfResult {
  const n = x.length;
  const ntrend = ntrendOf(regression);
  const cap = Math.floor(n / 2) - ntrend - 1;
  let maxLag: number;
  if (maxLagOpt === undefined || maxLagOpt === null) {
    maxLag = defaultMaxLag(n, regression);
    if (maxLag < 0) {
      throw new StatsError(
        'too-few-observations',
        `${what} has ${n} values, too few for an ADF regression with regression '${regression}'`,
      );
    }
  } else {
    nonNegativeInt(maxLagOpt, `${what}: maxLag`);
    maxLag = maxLagOpt;
    if (maxLag > cap) {
      throw new StatsError(
        'too-few-observations',
        `${what} has ${n} values, too few for maxLag ${maxLag}: maxLag must be at most ${cap} (n//2 − 1 − number of trend terms); use a smaller maxLag or a longer series`,
      );
    }
  }

  const d = new Float64Array(n);
  for (let t = 1; t < n; t++) d[t] = (x[t] as number) - (x[t - 1] as number);
  const lev = levelColumn(x, ntrend);

  let usedLag = maxLag;
  let icBest: number | undefined;
  if (autoLag !== null) {
    const K = ntrend + 1 + maxLag;
    const m = K + 1;
    const { a, nobs } = gram(x, d, lev, maxLag, ntrend, false);
    if (nobs - K < 1) tooShort(what, n, maxLag);
    choleskyInPlace(a, m, (i) => columnName(i, ntrend, false, K), true, degenerateContext(what, maxLag));
    // RSS with j lags = RSS of the full model + Σ of the squared z's dropped.
    const yRow = K * m;
    let rss = (a[yRow + K] as number) ** 2;
    const logN = Math.log(nobs);
    let best = Infinity;
    let bestLag = 0;
    const ic = new Float64Array(maxLag + 1);
    for (let j = maxLag; j >= 0; j--) {
      const k = ntrend + 1 + j;
      if (j < maxLag) rss += (a[yRow + k] as number) ** 2;
      const llf = -0.5 * nobs * (LOG_2PI + Math.log(rss / nobs) + 1);
      ic[j] = -2 * llf + (autoLag === 'aic' ? 2 : logN) * k;
    }
    for (let j = 0; j <= maxLag; j++) {
      if ((ic[j] as number) < best) {
        best = ic[j] as number;
        bestLag = j;
      }
    }
    usedLag = bestLag;
    icBest = best;
  }

  // Final regression with the chosen lag on its own (longer) sample; the level goes last so its
  // t-value is z_level / σ straight from the factor.
  const K = ntrend + 1 + usedLag;
  const m = K + 1;
  const { a, nobs } = gram(x, d, lev, usedLag, ntrend, true);
  if (nobs - K < 1) tooShort(what, n, usedLag);
  choleskyInPlace(a, m, (i) => columnName(i, ntrend, true, K), true, degenerateContext(what, usedLag));
  const yRow = K * m;
  const rss = (a[yRow + K] as number) ** 2;
  const sigma = Math.sqrt(rss / (nobs - K));
  const zLevel = a[yRow + K - 1] as number;
  const stat = zLevel / sigma;
  if (!Number.isFinite(stat)) {
    throw new StatsError(
      'singular',
      `${what}: the ADF regression fits exactly (zero residual variance); the series is deterministic and the test is undefined`,
    );
  }
  const result: AdfResult = {
    stat,
    pValue: mackinnonp(stat, { regression, n: 1 }),
    usedLag,
    nobs,
    criticalValues: mackinnoncrit({ regression, n: 1, nobs }),
  };
  if (icBest !== undefined) result.icBest = icBest;
  return result;
}

function degenerateContext(what: string, lags: number): string {
  return `${what} (ADF regression with ${lags} lags; the series has too little variation for it — a longer series or a smaller maxLag may help)`;
}

function tooShort(what: string, n: number, lag: number): never {
  throw new StatsError(
    'too-few-observations',
    `${what} has ${n} values, too few to fit an ADF regression with ${lag} lags (no degrees of freedom left)`,
  );
}

function columnName(i: number, ntrend: number, levelLast: boolean, K: number): string {
  if (i < ntrend) return i === 0 ? 'constant' : 'trend';
  if (i === K) return 'Δx';
  const levelPos = levelLast ? K - 1 : ntrend;
  if (i === levelPos) return 'lagged level';
  const lag = levelLast ? i - ntrend + 1 : i - ntrend;
  return `Δx lag ${lag}`;
}

/**
 * The level column x_{t−1}. With a constant (and trend) in the regression, subtracting any
 * constant (and linear trend) from it changes neither its coefficient's t-value nor any fit, and
 * removing the series' own mean (OLS line) keeps the Gram matrix well conditioned for prices far
 * from zero.
 */
function levelColumn(x: Float64Array, ntrend: number): Float64Array {
  const n = x.length;
  if (ntrend === 0) return x;
  const out = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] as number;
  const mean = s / n;
  if (ntrend === 1) {
    for (let i = 0; i < n; i++) out[i] = (x[i] as number) - mean;
    return out;
  }
  const mt = (n - 1) / 2;
  let stt = 0;
  let sty = 0;
  for (let i = 0; i < n; i++) {
    const dt = i - mt;
    stt += dt * dt;
    sty += dt * ((x[i] as number) - mean);
  }
  const slope = sty / stt;
  for (let i = 0; i < n; i++) out[i] = (x[i] as number) - mean - slope * (i - mt);
  return out;
}

/**
 * Gram matrix [X y]ᵀ[X y] (row-major, lower triangle filled and mirrored) of the ADF regression
 * with p lags over rows t = p+1 … n−1 (indices into x). Columns: trend terms (constant, then a
 * centred trend), then the level and lags 1…p (level first, or last when `levelLast`), then y = Δx_t.
 */
function gram(
  x: Float64Array,
  d: Float64Array,
  lev: Float64Array,
  p: number,
  ntrend: number,
  levelLast: boolean,
): { a: Float64Array; nobs: number } {
  const n = x.length;
  const nobs = n - 1 - p;
  const K = ntrend + 1 + p;
  const m = K + 1;
  const a = new Float64Array(m * m);
  const levelPos = levelLast ? K - 1 : ntrend;
  const lagBase = levelLast ? ntrend - 1 : ntrend; // column of lag j is lagBase + j (j ≥ 1)
  const col = (j: number): number => (j === 0 ? K : lagBase + j); // j = 0 is y

  // y, level and trend terms against every lag 0…p: one dot product per lag over the rows
  // t = p+1 … n−1 (register accumulators, contiguous reads: this loop is most of the work).
  const accY = new Float64Array(p + 1);
  const accL = new Float64Array(p + 1);
  const accC = new Float64Array(p + 1);
  const accT = new Float64Array(p + 1);
  const t0 = p + 1;
  const mt = (nobs - 1) / 2;
  for (let j = 0; j <= p; j++) {
    let sY = 0;
    let sL = 0;
    if (ntrend === 0) {
      // Two rows per step into separate accumulators: four independent add chains instead of two.
      let sY2 = 0;
      let sL2 = 0;
      let t = t0;
      for (; t + 1 < n; t += 2) {
        const dv = d[t - j] as number;
        const dw = d[t + 1 - j] as number;
        sY += (d[t] as number) * dv;
        sL += (lev[t - 1] as number) * dv;
        sY2 += (d[t + 1] as number) * dw;
        sL2 += (lev[t] as number) * dw;
      }
      if (t < n) {
        const dv = d[t - j] as number;
        sY += (d[t] as number) * dv;
        sL += (lev[t - 1] as number) * dv;
      }
      sY += sY2;
      sL += sL2;
    } else {
      let sC = 0;
      let sT = 0;
      let sY2 = 0;
      let sL2 = 0;
      let sC2 = 0;
      let t = t0;
      for (; t + 1 < n; t += 2) {
        const dv = d[t - j] as number;
        const dw = d[t + 1 - j] as number;
        sY += (d[t] as number) * dv;
        sL += (lev[t - 1] as number) * dv;
        sC += dv;
        sY2 += (d[t + 1] as number) * dw;
        sL2 += (lev[t] as number) * dw;
        sC2 += dw;
      }
      if (t < n) {
        const dv = d[t - j] as number;
        sY += (d[t] as number) * dv;
        sL += (lev[t - 1] as number) * dv;
        sC += dv;
      }
      sY += sY2;
      sL += sL2;
      sC += sC2;
      if (ntrend === 2) for (let t = t0; t < n; t++) sT += (t - t0 - mt) * (d[t - j] as number);
      accC[j] = sC;
      accT[j] = sT;
    }
    accY[j] = sY;
    accL[j] = sL;
  }
  let sLL = 0;
  let sCL = 0;
  let sTL = 0;
  for (let t = t0; t < n; t++) {
    const lv = lev[t - 1] as number;
    sLL += lv * lv;
    sCL += lv;
    sTL += (t - t0 - mt) * lv;
  }
  const set = (i: number, j: number, v: number): void => {
    a[i * m + j] = v;
    a[j * m + i] = v;
  };
  // Lag block: S[j][k] = Σ_t d[t−j]·d[t−k]; S[j+1][k+1] = S[j][k] + d[p−j]d[p−k] − d[n−1−j]d[n−1−k].
  for (let off = 0; off <= p; off++) {
    let s = accY[off] as number;
    set(col(0), col(off), s);
    for (let j = 0; j + off < p; j++) {
      const k = j + off;
      s += (d[p - j] as number) * (d[p - k] as number) - (d[n - 1 - j] as number) * (d[n - 1 - k] as number);
      set(col(j + 1), col(k + 1), s);
    }
  }
  for (let j = 0; j <= p; j++) set(levelPos, col(j), accL[j] as number);
  set(levelPos, levelPos, sLL);
  if (ntrend >= 1) {
    set(0, 0, nobs);
    set(0, levelPos, sCL);
    for (let j = 0; j <= p; j++) set(0, col(j), accC[j] as number);
  }
  if (ntrend === 2) {
    set(0, 1, 0); // Σ of a centred trend
    set(1, 1, (nobs * (nobs * nobs - 1)) / 12);
    set(1, levelPos, sTL);
    for (let j = 0; j <= p; j++) set(1, col(j), accT[j] as number);
  }
  return { a, nobs };
}
