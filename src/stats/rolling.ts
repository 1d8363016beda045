/**
 * O(1)-per-bar rolling statistics for the live loop.
 *
 * Both classes keep a ring buffer of the last W values and the window's means and centred sums of
 * squares/cross-products, updated on every push by the exact sliding-window identities (add the
 * new point, remove the oldest, both relative to the current means, so no large raw sums ever
 * cancel). Rounding drift is capped by recomputing the centred sums exactly from the buffer every
 * `recomputeEvery` pushes (default 64·W, i.e. < 2% extra work), so the figures stay within a few
 * hundred ulps of an exact recomputation over any number of updates (tests/stats-rolling.test.ts
 * checks this over millions of updates).
 *
 * Spec (docs/strategy.md, OLS hedge): after pushing bar t with window W,
 *   beta = cov(x, y) / var(x), alpha = mean(y) − beta·mean(x)    (over the last W bars)
 *   r_t  = y_t − alpha − beta·x_t                                  (residual of the latest bar)
 *   sd   = sqrt(RSS / (W − 1)), RSS = Syy − Sxy²/Sxx (centred sums) (ddof = 1 sd of the W residuals)
 *   z_t  = r_t / sd
 */
import { StatsError } from './errors.ts';

const EPS = 2.220446049250313e-16;

function checkWindow(window: number, min: number, who: string): void {
  if (!Number.isInteger(window) || window < min) {
    throw new StatsError('invalid-argument', `${who}: window must be an integer ≥ ${min}, got ${String(window)}`);
  }
}

function nonFinite(who: string, what: string, v: number): never {
  throw new StatsError('non-finite', `${who}.push: ${what} is ${String(v)}; every value must be a finite number`);
}

export interface RollingOptions {
  /** Recompute the centred sums exactly every this many pushes (default 64·window, at least 4096). */
  recomputeEvery?: number;
}

/**
 * Rolling OLS of y on x with an intercept over the last `window` points.
 *
 * ```ts
 * const r = new RollingOls(120);
 * for (const bar of bars) {
 *   r.push(bar.px, bar.py);
 *   if (r.ready && !r.isDegenerate) use(r.beta, r.alpha, r.latestResidual, r.residualSd(), r.latestZ);
 * }
 * ```
 * Getters throw a StatsError when the figure is undefined (window not full yet, x constant over the
 * window, or a perfect fit with zero residual sd); check `ready` and `isDegenerate` first.
 */
export class RollingOls {
  readonly window: number;
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private head = 0; // index of the oldest value once full; next write position
  private n = 0;
  private mx = 0;
  private my = 0;
  private sxx = 0;
  private sxy = 0;
  private syy = 0;
  private lastX = 0;
  private lastY = 0;
  // Reference point subtracted from every value before it enters the sums: the means then stay
  // near zero, so their rounding (which the centred updates feed on) is relative to the window's
  // spread rather than to the price level. Moved to the window's mean at every exact recompute.
  private rx = NaN;
  private ry = NaN;
  private sinceExact = 0;
  private readonly recomputeEvery: number;
  private readonly invW: number;

  constructor(window: number, opts: RollingOptions = {}) {
    checkWindow(window, 3, 'RollingOls');
    this.window = window;
    this.invW = 1 / window;
    this.xs = new Float64Array(window);
    this.ys = new Float64Array(window);
    this.recomputeEvery = opts.recomputeEvery ?? Math.max(64 * window, 4096);
    if (!(this.recomputeEvery >= 1)) throw new StatsError('invalid-argument', 'RollingOls: recomputeEvery must be ≥ 1');
  }

  /** Add the point (x, y) and drop the oldest one once the window is full. O(1). */
  push(x: number, y: number): void {
    // x − x is 0 for a finite number and NaN for NaN or ±∞: one comparison guards both values.
    if (x - x + (y - y) !== 0) {
      if (!Number.isFinite(x)) nonFinite('RollingOls', 'x', x);
      nonFinite('RollingOls', 'y', y);
    }
    const W = this.window;
    const h = this.head;
    if (this.n === 0) {
      this.rx = x;
      this.ry = y;
    }
    const rx = this.rx;
    const ry = this.ry;
    const xn = x - rx;
    const yn = y - ry;
    if (this.n < W) {
      // Welford add.
      const n = ++this.n;
      const dx = xn - this.mx;
      const dy = yn - this.my;
      this.mx += dx / n;
      this.my += dy / n;
      this.sxx += dx * (xn - this.mx);
      this.sxy += dx * (yn - this.my);
      this.syy += dy * (yn - this.my);
    } else {
      // Replace the oldest (xo, yo) by (xn, yn): C' = C + dx·(yn − my') + dy·(xo − mx).
      const xo = (this.xs[h] as number) - rx;
      const yo = (this.ys[h] as number) - ry;
      const dx = xn - xo;
      const dy = yn - yo;
      const mx0 = this.mx;
      const my0 = this.my;
      const mx1 = mx0 + dx * this.invW;
      const my1 = my0 + dy * this.invW;
      this.sxx += dx * (xn - mx1 + xo - mx0);
      this.syy += dy * (yn - my1 + yo - my0);
      this.sxy += dx * (yn - my1) + dy * (xo - mx0);
      this.mx = mx1;
      this.my = my1;
    }
    this.xs[h] = x;
    this.ys[h] = y;
    this.lastX = x;
    this.lastY = y;
    this.head = h + 1 === W ? 0 : h + 1;
    if (++this.sinceExact >= this.recomputeEvery) this.recompute();
  }

  /**
   * Recompute means and centred sums exactly (two passes over the window) and move the reference
   * point to the window's mean. Called automatically every `recomputeEvery` pushes.
   */
  recompute(): void {
    const n = this.n;
    this.sinceExact = 0;
    if (n === 0) return;
    let sx = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      sx += this.xs[i] as number;
      sy += this.ys[i] as number;
    }
    const rx = sx / n;
    const ry = sy / n;
    // Second pass: the exact means of the shifted values (≈ 0) and the centred sums about them.
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      mx += (this.xs[i] as number) - rx;
      my += (this.ys[i] as number) - ry;
    }
    mx /= n;
    my /= n;
    let sxx = 0;
    let sxy = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      const dx = (this.xs[i] as number) - rx - mx;
      const dy = (this.ys[i] as number) - ry - my;
      sxx += dx * dx;
      sxy += dx * dy;
      syy += dy * dy;
    }
    this.rx = rx;
    this.ry = ry;
    this.mx = mx;
    this.my = my;
    this.sxx = sxx;
    this.sxy = sxy;
    this.syy = syy;
  }

  /** Points currently in the window (≤ window). */
  get count(): number {
    return this.n;
  }

  /** True once `window` points have been pushed. */
  get ready(): boolean {
    return this.n >= this.window;
  }

  /** x constant over the window (no slope) or y fitted exactly (zero residual sd). */
  get isDegenerate(): boolean {
    return this.xDegenerate() || this.rssRaw() <= 64 * EPS * this.syy;
  }

  private xDegenerate(): boolean {
    const tol = 1e-9 * Math.abs(this.rx + this.mx);
    return !(this.sxx > this.n * tol * tol) || this.sxx <= 0;
  }

  private rssRaw(): number {
    return this.syy - (this.sxy * this.sxy) / this.sxx;
  }

  private need(minCount: number, what: string): void {
    if (this.n < minCount) {
      throw new StatsError('too-few-observations', `RollingOls.${what}: ${this.n} points pushed, need ${minCount}`);
    }
    if (this.xDegenerate()) {
      throw new StatsError('constant-series', `RollingOls.${what}: x is constant over the window; the slope is undefined`);
    }
  }

  /** Slope of y on x over the window. */
  get beta(): number {
    this.need(2, 'beta');
    return this.sxy / this.sxx;
  }

  /** Intercept: mean(y) − beta·mean(x). */
  get alpha(): number {
    this.need(2, 'alpha');
    return this.ry + this.my - (this.sxy / this.sxx) * (this.rx + this.mx);
  }

  get meanX(): number {
    return this.rx + this.mx;
  }

  get meanY(): number {
    return this.ry + this.my;
  }

  /** Residual sum of squares of the window's fit, Syy − Sxy²/Sxx (never negative). */
  rss(): number {
    this.need(3, 'rss');
    return Math.max(this.rssRaw(), 0);
  }

  /** Standard deviation (ddof = 1) of the window's residuals: sqrt(RSS / (count − 1)). */
  residualSd(): number {
    return Math.sqrt(this.rss() / (this.n - 1));
  }

  /** Residual of (x, y) against the window's fit: y − alpha − beta·x (computed around the means). */
  residual(x: number, y: number): number {
    this.need(2, 'residual');
    return y - this.ry - this.my - (this.sxy / this.sxx) * (x - this.rx - this.mx);
  }

  /** Residual of the latest pushed point. */
  get latestResidual(): number {
    return this.residual(this.lastX, this.lastY);
  }

  /** z of (x, y): residual(x, y) / residualSd(). Throws if the residual sd is zero (perfect fit). */
  zScore(x: number, y: number): number {
    const sd = this.residualSd();
    if (!(sd > 0) || this.rssRaw() <= 64 * EPS * this.syy) {
      throw new StatsError('singular', 'RollingOls.zScore: y is fitted exactly by x over the window (zero residual sd); z is undefined');
    }
    return this.residual(x, y) / sd;
  }

  /** z of the latest pushed point: the spec's z_t. Same checks as zScore(), one pass (hot path). */
  get latestZ(): number {
    const n = this.n;
    const sxx = this.sxx;
    const tol = 1e-9 * (this.rx + this.mx);
    if (n < 3 || !(sxx > n * tol * tol) || !(sxx > 0)) return this.zScore(this.lastX, this.lastY); // throws the right error
    const beta = this.sxy / sxx;
    const rss = this.syy - (this.sxy * this.sxy) / sxx;
    if (!(rss > 64 * EPS * this.syy)) return this.zScore(this.lastX, this.lastY);
    const r = this.lastY - this.ry - this.my - beta * (this.lastX - this.rx - this.mx);
    return r / Math.sqrt(rss / (n - 1));
  }
}

/**
 * Rolling mean, ddof = 1 standard deviation and z-score over the last `window` values.
 * `zScore()` of the latest value is (v − mean)/sd over the window that includes it.
 */
export class RollingZScore {
  readonly window: number;
  private readonly vs: Float64Array;
  private head = 0;
  private n = 0;
  private ref = 0; // reference subtracted from every value (see RollingOls)
  private m = 0; // mean of the shifted values
  private s = 0; // centred sum of squares
  private last = 0;
  private sinceExact = 0;
  private readonly recomputeEvery: number;
  private readonly invW: number;

  constructor(window: number, opts: RollingOptions = {}) {
    checkWindow(window, 2, 'RollingZScore');
    this.window = window;
    this.invW = 1 / window;
    this.vs = new Float64Array(window);
    this.recomputeEvery = opts.recomputeEvery ?? Math.max(64 * window, 4096);
    if (!(this.recomputeEvery >= 1)) throw new StatsError('invalid-argument', 'RollingZScore: recomputeEvery must be ≥ 1');
  }

  push(v: number): void {
    if (v - v !== 0) nonFinite('RollingZScore', 'value', v);
    const W = this.window;
    const h = this.head;
    if (this.n === 0) this.ref = v;
    const vn = v - this.ref;
    if (this.n < W) {
      const n = ++this.n;
      const d = vn - this.m;
      this.m += d / n;
      this.s += d * (vn - this.m);
    } else {
      const vo = (this.vs[h] as number) - this.ref;
      const d = vn - vo;
      const m0 = this.m;
      const m1 = m0 + d * this.invW;
      this.s += d * (vn - m1 + vo - m0);
      this.m = m1;
    }
    this.vs[h] = v;
    this.last = v;
    this.head = h + 1 === W ? 0 : h + 1;
    if (++this.sinceExact >= this.recomputeEvery) this.recompute();
  }

  /** Exact two-pass recomputation; moves the reference point to the window mean. Called automatically. */
  recompute(): void {
    const n = this.n;
    this.sinceExact = 0;
    if (n === 0) return;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.vs[i] as number;
    const ref = sum / n;
    let m = 0;
    for (let i = 0; i < n; i++) m += (this.vs[i] as number) - ref;
    m /= n;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = (this.vs[i] as number) - ref - m;
      s += d * d;
    }
    this.ref = ref;
    this.m = m;
    this.s = s;
  }

  get count(): number {
    return this.n;
  }

  get ready(): boolean {
    return this.n >= this.window;
  }

  get mean(): number {
    if (this.n < 1) throw new StatsError('too-few-observations', 'RollingZScore.mean: nothing pushed yet');
    return this.ref + this.m;
  }

  /** ddof = 1 standard deviation over the window. */
  sd(): number {
    if (this.n < 2) throw new StatsError('too-few-observations', `RollingZScore.sd: ${this.n} values pushed, need 2`);
    return Math.sqrt(Math.max(this.s, 0) / (this.n - 1));
  }

  /** (v − mean)/sd against the current window (default: the latest value). */
  zScore(v: number = this.last): number {
    const sd = this.sd();
    const tol = 1e-12 * Math.abs(this.ref + this.m);
    if (!(sd > tol)) {
      throw new StatsError('constant-series', 'RollingZScore.zScore: the window is constant (zero sd); z is undefined');
    }
    return (v - this.ref - this.m) / sd;
  }
}
