/** Mean-reversion half-life of a spread, from the AR(1)-style regression Δs_t = c + λ·s_{t−1} + ε_t. */
import { StatsError } from './errors.ts';
import { minLength, notConstant, toFinite } from './validate.ts';

/**
 * Half-life in bars: −ln 2 / λ, with λ the OLS slope of Δs_t on [1, s_{t−1}]. A slope ≥ 0 means
 * the spread does not revert: the half-life is Infinity (never a negative number).
 */
export function halfLife(spread: ArrayLike<number>): number {
  const s = toFinite(spread, 'halfLife: spread');
  minLength(s, 4, 'halfLife: spread', 'the half-life regression');
  notConstant(s, 'halfLife: spread');
  const n = s.length - 1;
  let mx = 0;
  let my = 0;
  for (let t = 1; t <= n; t++) {
    mx += s[t - 1] as number;
    my += (s[t] as number) - (s[t - 1] as number);
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  for (let t = 1; t <= n; t++) {
    const dx = (s[t - 1] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((s[t] as number) - (s[t - 1] as number) - my);
  }
  if (!(sxx > 0)) {
    throw new StatsError('constant-series', 'halfLife: the lagged spread has no variation; the regression slope is undefined');
  }
  const slope = sxy / sxx;
  return slope < 0 ? -Math.LN2 / slope : Infinity;
}
