/** Ordinary least squares of one series on another, with an intercept (and optionally a linear trend). */
import { StatsError } from './errors.ts';
import { minLength, notConstant, sameLength, toFinite } from './validate.ts';

export interface OlsResult {
  alpha: number;
  beta: number;
  residuals: Float64Array;
}

/**
 * y = alpha + beta·x + residual, by least squares. Computed from centred moments (two passes),
 * which keeps full precision when prices sit far from zero.
 */
export function ols(y: ArrayLike<number>, x: ArrayLike<number>): OlsResult {
  const yy = toFinite(y, 'ols: y');
  const xx = toFinite(x, 'ols: x');
  sameLength(yy, xx, 'ols: y', 'x');
  minLength(yy, 3, 'ols: y', 'a regression with an intercept and a slope');
  notConstant(xx, 'ols: x');
  return olsUnchecked(yy, xx);
}

export function olsUnchecked(y: Float64Array, x: Float64Array): OlsResult {
  const n = y.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i] as number;
    sy += y[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((y[i] as number) - my);
  }
  if (!(sxx > 0)) throw new StatsError('constant-series', 'ols: x has no variation; the slope is undefined');
  const beta = sxy / sxx;
  const alpha = my - beta * mx;
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) residuals[i] = (y[i] as number) - my - beta * ((x[i] as number) - mx);
  return { alpha, beta, residuals };
}

/**
 * y = alpha + beta·x + gamma·t + residual with t = 0, 1, …, n−1 (statsmodels' `coint(trend='ct')`
 * first stage; its trend starts at 1, which only moves alpha). Returns alpha for t starting at 1,
 * as statsmodels reports it.
 */
export function olsWithTrend(y: Float64Array, x: Float64Array): OlsResult & { gamma: number } {
  const n = y.length;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i] as number;
    sy += y[i] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  const mt = (n - 1) / 2;
  let sxx = 0;
  let sxt = 0;
  let stt = 0;
  let sxy = 0;
  let sty = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dt = i - mt;
    const dy = (y[i] as number) - my;
    sxx += dx * dx;
    sxt += dx * dt;
    stt += dt * dt;
    sxy += dx * dy;
    sty += dt * dy;
  }
  // Cholesky of the 2×2 centred Gram [[sxx, sxt], [sxt, stt]].
  if (!(sxx > 0)) throw new StatsError('constant-series', 'ols: x has no variation; the slope is undefined');
  const l11 = Math.sqrt(sxx);
  const l21 = sxt / l11;
  const d22 = stt - l21 * l21;
  if (!(d22 > 1e-13 * stt)) {
    throw new StatsError('singular', 'ols: x is (numerically) a linear time trend; x and the trend cannot be separated');
  }
  const l22 = Math.sqrt(d22);
  const z1 = sxy / l11;
  const z2 = (sty - l21 * z1) / l22;
  const gamma = z2 / l22;
  const beta = (z1 - l21 * gamma) / l11;
  const alpha0 = my - beta * mx - gamma * mt; // intercept with t starting at 0
  const residuals = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    residuals[i] = (y[i] as number) - my - beta * ((x[i] as number) - mx) - gamma * (i - mt);
  }
  return { alpha: alpha0 - gamma, beta, gamma, residuals };
}
