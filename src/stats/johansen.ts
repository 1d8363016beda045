/**
 * Johansen cointegration test, matching statsmodels' `coint_johansen(endog, det_order, k_ar_diff)`.
 *
 * The eigenproblem |λ·S11 − S10·S00⁻¹·S01| = 0 is solved as a symmetric one (Cholesky of S11,
 * then Jacobi), which gives the same eigenvalues as statsmodels' non-symmetric eig and eigenvectors
 * already normalised to vᵀ·S11·v = 1, the normalisation statsmodels applies afterwards.
 */
import { StatsError } from './errors.ts';
import { choleskyInPlace, symmetricEigen } from './linalg.ts';
import { JOHANSEN_MAX_EIG, JOHANSEN_TRACE } from './tables.ts';

export interface JohansenResult {
  /** Eigenvalues, largest first. */
  eigenvalues: number[];
  /**
   * eigenvectors[i][j] = component i of eigenvector j (statsmodels' `evec` layout: vectors are
   * columns), normalised so vᵀ·S11·v = 1. Sign: eigenvectors[0][0] > 0, as statsmodels; the signs
   * of the other columns are arbitrary in statsmodels (they come from LAPACK's eig), so Tandem makes
   * each other column's largest-magnitude component positive.
   */
  eigenvectors: number[][];
  /** Trace statistic for H0: rank ≤ r, r = 0 … n−1 (statsmodels' lr1). */
  traceStat: number[];
  /** Maximum-eigenvalue statistic for H0: rank = r vs r+1 (statsmodels' lr2). */
  maxEigStat: number[];
  /** Per rank r, critical values [90%, 95%, 99%] of the trace statistic (statsmodels' cvt). */
  traceCrit: number[][];
  /** Per rank r, critical values [90%, 95%, 99%] of the max-eigenvalue statistic (statsmodels' cvm). */
  maxEigCrit: number[][];
  /** Rows used (nobs − 1 − kArDiff). */
  nobs: number;
}

/** Column-major matrix: column c is d[c·rows … (c+1)·rows), so every product below is a contiguous dot. */
type Matrix = { rows: number; cols: number; d: Float64Array };

function mat(rows: number, cols: number): Matrix {
  return { rows, cols, d: new Float64Array(rows * cols) };
}

function dot(d1: Float64Array, o1: number, d2: Float64Array, o2: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (d1[o1 + i] as number) * (d2[o2 + i] as number);
  return s;
}

/** Remove a polynomial time trend of degree `order` (−1: nothing, 0: mean, 1: mean and line) from each column. */
function detrend(m: Matrix, order: number): Matrix {
  if (order < 0) return m;
  const { rows, cols, d } = m;
  const out = mat(rows, cols);
  const od = out.d;
  const mt = (rows - 1) / 2;
  let stt = 0;
  for (let i = 0; i < rows; i++) stt += (i - mt) ** 2;
  for (let c = 0; c < cols; c++) {
    const o = c * rows;
    let s = 0;
    for (let i = 0; i < rows; i++) s += d[o + i] as number;
    const mean = s / rows;
    let slope = 0;
    if (order >= 1 && stt > 0) {
      let sty = 0;
      for (let i = 0; i < rows; i++) sty += (i - mt) * ((d[o + i] as number) - mean);
      slope = sty / stt;
    }
    for (let i = 0; i < rows; i++) od[o + i] = (d[o + i] as number) - mean - slope * (i - mt);
  }
  return out;
}

/** Residuals of each column of y regressed (no intercept) on the columns of x. */
function residualsOn(y: Matrix, x: Matrix): Matrix {
  if (x.cols === 0) return y;
  const n = x.rows;
  const k = x.cols;
  const q = y.cols;
  const xd = x.d;
  const yd = y.d;
  // Cholesky of xᵀx, then per y column: coef = (xᵀx)⁻¹xᵀy, residual = y − x·coef.
  const lk = new Float64Array(k * k);
  for (let a = 0; a < k; a++) for (let b = 0; b <= a; b++) lk[a * k + b] = dot(xd, a * n, xd, b * n, n);
  choleskyInPlace(lk, k, (i) => `lagged difference column ${i + 1}`, false, 'johansen (try a smaller kArDiff or more rows)');
  const out = mat(n, q);
  const od = out.d;
  const coef = new Float64Array(k);
  for (let c = 0; c < q; c++) {
    for (let a = 0; a < k; a++) {
      let s = dot(yd, c * n, xd, a * n, n);
      for (let b = 0; b < a; b++) s -= (lk[a * k + b] as number) * (coef[b] as number);
      coef[a] = s / (lk[a * k + a] as number);
    }
    for (let a = k - 1; a >= 0; a--) {
      let s = coef[a] as number;
      for (let b = a + 1; b < k; b++) s -= (lk[b * k + a] as number) * (coef[b] as number);
      coef[a] = s / (lk[a * k + a] as number);
    }
    const o = c * n;
    for (let i = 0; i < n; i++) od[o + i] = yd[o + i] as number;
    for (let a = 0; a < k; a++) {
      const ca = coef[a] as number;
      const xo = a * n;
      for (let i = 0; i < n; i++) od[o + i] = (od[o + i] as number) - ca * (xd[xo + i] as number);
    }
  }
  return out;
}

/** S = aᵀb / rows (row-major result, a.cols × b.cols). */
function crossOver(a: Matrix, b: Matrix): Float64Array {
  const T = a.rows;
  const s = new Float64Array(a.cols * b.cols);
  for (let i = 0; i < a.cols; i++) {
    for (let j = 0; j < b.cols; j++) s[i * b.cols + j] = dot(a.d, i * T, b.d, j * T, T) / T;
  }
  return s;
}

export function johansen(data: number[][], detOrder: -1 | 0 | 1, kArDiff: number): JohansenResult {
  if (!Array.isArray(data) || data.length === 0) {
    throw new StatsError('too-few-observations', 'johansen: data has no rows (rows are times, columns are series)');
  }
  if (detOrder !== -1 && detOrder !== 0 && detOrder !== 1) {
    throw new StatsError('invalid-argument', `johansen: detOrder must be -1, 0 or 1, got ${String(detOrder)}`);
  }
  if (!Number.isInteger(kArDiff) || kArDiff < 0) {
    throw new StatsError('invalid-argument', `johansen: kArDiff must be a non-negative integer, got ${String(kArDiff)}`);
  }
  const nobs = data.length;
  const neqs = (data[0] as number[]).length;
  if (!(neqs >= 1)) throw new StatsError('invalid-argument', 'johansen: rows have no columns (rows are times, columns are series)');
  if (neqs > 12) {
    throw new StatsError('invalid-argument', `johansen: ${neqs} series given; critical values exist for at most 12`);
  }
  const y = mat(nobs, neqs);
  for (let i = 0; i < nobs; i++) {
    const row = data[i];
    if (!Array.isArray(row) || row.length !== neqs) {
      throw new StatsError(
        'length-mismatch',
        `johansen: row ${i} has ${Array.isArray(row) ? row.length : 'no'} values, expected ${neqs} (one per series)`,
      );
    }
    for (let j = 0; j < neqs; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new StatsError('non-finite', `johansen: value at row ${i}, column ${j} is ${String(v)}; every value must be finite`);
      }
      y.d[j * nobs + i] = v;
    }
  }
  for (let j = 0; j < neqs; j++) {
    let constant = true;
    for (let i = 1; i < nobs && constant; i++) constant = y.d[j * nobs + i] === y.d[j * nobs];
    if (constant) throw new StatsError('constant-series', `johansen: series in column ${j} is constant`);
  }
  const T = nobs - 1 - kArDiff;
  const regressors = neqs * kArDiff + neqs;
  if (T <= regressors + 1) {
    throw new StatsError(
      'too-few-observations',
      `johansen: ${nobs} rows are too few for ${neqs} series with kArDiff = ${kArDiff} (need more than ${regressors + 2 + kArDiff})`,
    );
  }

  const f = detOrder > -1 ? 0 : -1;
  const endog = detrend(y, detOrder);
  // ΔY (nobs−1 rows); on rows i = 0 … T−1 (ΔY row r = i + k): ΔY itself, its lags 1…k, and the
  // level rows, which are statsmodels' endog[1 : nobs − k] (row i ↔ endog[i + 1]).
  const ed = endog.d;
  const z = mat(T, neqs * kArDiff);
  const dxT = mat(T, neqs);
  const lx = mat(T, neqs);
  for (let j = 0; j < neqs; j++) {
    const eo = j * nobs;
    for (let i = 0; i < T; i++) {
      const r = i + kArDiff;
      dxT.d[j * T + i] = (ed[eo + r + 1] as number) - (ed[eo + r] as number);
      lx.d[j * T + i] = ed[eo + i + 1] as number;
    }
    for (let l = 1; l <= kArDiff; l++) {
      const zo = ((l - 1) * neqs + j) * T;
      for (let i = 0; i < T; i++) {
        const r = i + kArDiff - l;
        z.d[zo + i] = (ed[eo + r + 1] as number) - (ed[eo + r] as number);
      }
    }
  }
  const zD = detrend(z, f);
  const r0t = residualsOn(detrend(dxT, f), zD);
  const rkt = residualsOn(detrend(lx, f), zD);
  const skk = crossOver(rkt, rkt);
  const sk0 = crossOver(rkt, r0t);
  const s00 = crossOver(r0t, r0t);

  // A = Sk0·S00⁻¹·S0k via the Cholesky factor of S00: A = (Sk0·L00⁻ᵀ)(…)ᵀ.
  const n = neqs;
  const l00 = Float64Array.from(s00);
  choleskyInPlace(l00, n, (i) => `differenced series ${i}`, false, 'johansen (a series does not move independently of the others)');
  const w = new Float64Array(n * n); // w = Sk0·L00⁻ᵀ, i.e. solve L00·wᵀ = S0k
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      let s = sk0[r * n + c] as number;
      for (let b = 0; b < c; b++) s -= (l00[c * n + b] as number) * (w[r * n + b] as number);
      w[r * n + c] = s / (l00[c * n + c] as number);
    }
  }
  const lkk = Float64Array.from(skk);
  choleskyInPlace(lkk, n, (i) => `lagged level of series ${i}`, false, 'johansen (a series is a linear combination of the others)');
  // u = Lkk⁻¹·w, then C = u·uᵀ = Lkk⁻¹·A·Lkk⁻ᵀ (symmetric).
  const u = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let r = 0; r < n; r++) {
      let s = w[r * n + c] as number;
      for (let b = 0; b < r; b++) s -= (lkk[r * n + b] as number) * (u[b * n + c] as number);
      u[r * n + c] = s / (lkk[r * n + r] as number);
    }
  }
  const cm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (u[i * n + k] as number) * (u[j * n + k] as number);
      cm[i * n + j] = s;
      cm[j * n + i] = s;
    }
  }
  const { values, vectors } = symmetricEigen(cm, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[b] as number) - (values[a] as number));
  const eigenvalues = order.map((i) => values[i] as number);
  if (!((eigenvalues[0] as number) < 1 - 1e-12) || eigenvalues.some((v) => Number.isNaN(v))) {
    throw new StatsError(
      'singular',
      `johansen: the differences are an exact linear function of the lagged levels (eigenvalue ${eigenvalues[0]}); ` +
        `the ${nobs} rows are too few or too degenerate for ${neqs} series with kArDiff = ${kArDiff}`,
    );
  }
  // v = Lkk⁻ᵀ·wv for each eigenvector wv.
  const evec: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  order.forEach((src, dst) => {
    const v = new Float64Array(n);
    for (let r = n - 1; r >= 0; r--) {
      let s = vectors[r * n + src] as number;
      for (let b = r + 1; b < n; b++) s -= (lkk[b * n + r] as number) * (v[b] as number);
      v[r] = s / (lkk[r * n + r] as number);
    }
    // Sign: the first column's first non-zero component positive (what statsmodels' flip of the
    // whole matrix guarantees); every other column's largest-magnitude component positive.
    let pivot = 0;
    if (dst === 0) while (pivot < n - 1 && v[pivot] === 0) pivot++;
    else for (let r = 0; r < n; r++) if (Math.abs(v[r] as number) > Math.abs(v[pivot] as number)) pivot = r;
    if ((v[pivot] as number) < 0) for (let r = 0; r < n; r++) v[r] = -(v[r] as number);
    for (let r = 0; r < n; r++) (evec[r] as number[])[dst] = v[r] as number;
  });

  const traceStat: number[] = [];
  const maxEigStat: number[] = [];
  const traceCrit: number[][] = [];
  const maxEigCrit: number[][] = [];
  const key = String(detOrder) as '-1' | '0' | '1';
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i; j < n; j++) s += Math.log1p(-(eigenvalues[j] as number));
    traceStat.push(-T * s);
    maxEigStat.push(-T * Math.log1p(-(eigenvalues[i] as number)));
    traceCrit.push([...(JOHANSEN_TRACE[key][n - i - 1] as readonly number[])]);
    maxEigCrit.push([...(JOHANSEN_MAX_EIG[key][n - i - 1] as readonly number[])]);
  }
  return { eigenvalues, eigenvectors: evec, traceStat, maxEigStat, traceCrit, maxEigCrit, nobs: T };
}
