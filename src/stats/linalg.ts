/** Small dense linear algebra on row-major Float64Arrays, sized for regressions of a few dozen columns. */
import { StatsError } from './errors.ts';

/**
 * In-place Cholesky factorisation A = L·Lᵀ of the symmetric positive definite m×m matrix `a`
 * (row-major; only the lower triangle is read, L overwrites it).
 *
 * With a Gram matrix of columns [x_1 … x_k, y], row m−1 of L holds z = L⁻¹Xᵀy and L[m−1][m−1]² is
 * the residual sum of squares of y on all of x; the factor of any leading block is the leading
 * block of the factor, which is what makes nested regressions (ADF lag search) cheap.
 *
 * `names` labels columns for the error raised when a pivot vanishes (a regressor that is a linear
 * combination of the previous ones); `context` says which computation and what to do, e.g.
 * "adf: series (try a smaller maxLag)". The last column (the dependent variable) may have a zero
 * pivot (a perfect fit) without error when `lastMayBeZero`.
 */
export function choleskyInPlace(
  a: Float64Array,
  m: number,
  names: (i: number) => string,
  lastMayBeZero: boolean,
  context: string,
): void {
  for (let j = 0; j < m; j++) {
    const rowJ = j * m;
    let diag = a[rowJ + j] as number;
    const orig = diag;
    for (let k = 0; k < j; k++) {
      const v = a[rowJ + k] as number;
      diag -= v * v;
    }
    const isLast = j === m - 1;
    if (!(diag > 1e-13 * orig) || !(orig > 0)) {
      if (isLast && lastMayBeZero) {
        a[rowJ + j] = diag > 0 ? Math.sqrt(diag) : 0;
        return;
      }
      throw new StatsError(
        orig > 0 ? 'singular' : 'constant-series',
        orig > 0
          ? `${context}: regressor ${names(j)} is (numerically) a linear combination of the other regressors, so the regression has no unique solution`
          : `${context}: regressor ${names(j)} is identically zero over the rows used, so the regression has no unique solution`,
      );
    }
    const ljj = Math.sqrt(diag);
    a[rowJ + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < m; i++) {
      const rowI = i * m;
      let s = a[rowI + j] as number;
      for (let k = 0; k < j; k++) s -= (a[rowI + k] as number) * (a[rowJ + k] as number);
      a[rowI + j] = s * inv;
    }
  }
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations, accurate
 * to a few ulps of the largest eigenvalue for the small systems (n ≤ 12) Johansen needs.
 * Returns eigenvalues (unsorted) and the orthonormal eigenvectors as the columns of `vectors`.
 */
export function symmetricEigen(a0: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(a0);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = (a[i * n + j] as number) ** 2;
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-32 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q] as number;
        if (apq === 0) continue;
        const app = a[p * n + p] as number;
        const aqq = a[q * n + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p] as number;
          const akq = a[k * n + q] as number;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k] as number;
          const aqk = a[q * n + k] as number;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i] as number;
  return { values, vectors: v };
}
