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
 * combination of the previous ones). The last column (the dependent variable) may have a zero pivot
 * (a perfect fit) without error when `lastMayBeZero`.
 */
export function choleskyInPlace(a: Float64Array, m: number, names: (i: number) => string, lastMayBeZero = true): void {
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
          ? `regressor ${names(j)} is (numerically) a linear combination of the other regressors; the regression has no unique solution`
          : `regressor ${names(j)} is identically zero; the regression has no unique solution`,
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

/** Solve Lᵀ·b = z for b, with L the lower factor of the leading k×k block of `l` (row-major, stride m). */
export function backSubstituteLT(l: Float64Array, m: number, k: number, z: Float64Array): Float64Array {
  const b = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let r = i + 1; r < k; r++) s -= (l[r * m + i] as number) * (b[r] as number);
    b[i] = s / (l[i * m + i] as number);
  }
  return b;
}
