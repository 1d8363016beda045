/**
 * Kalman-filter hedge ratio, exactly the recursion of docs/strategy.md (strategy-spec "Kalman hedge"):
 * state θ = [β, α], observation row h_t = [x_t, 1], random-walk state with covariance
 * Vw = δ/(1−δ)·I, observation noise Ve. Start θ = [0, 0], P = 0. At each bar, in order:
 *   R = P + Vw;  ŷ = h·θ;  Q = h·R·hᵀ + Ve;  e = y_t − ŷ;  K = R·hᵀ/Q;  θ = θ + K·e;  P = R − K·h·R.
 */
import { StatsError } from './errors.ts';
import { sameLength, toFinite } from './validate.ts';

export interface KalmanHedgeOptions {
  /** State drift δ in (0, 1): larger lets β and α move faster. */
  delta: number;
  /** Observation noise variance Ve > 0. */
  ve: number;
}

export interface KalmanHedgeResult {
  /** β after the update at each bar. */
  beta: Float64Array;
  /** α after the update at each bar. */
  alpha: Float64Array;
  /** Forecast error e_t = y_t − ŷ_t (before the update). The signal is e/√Q. */
  e: Float64Array;
  /** Forecast error variance Q_t. */
  q: Float64Array;
}

export function kalmanHedge(y: ArrayLike<number>, x: ArrayLike<number>, opts: KalmanHedgeOptions): KalmanHedgeResult {
  const yy = toFinite(y, 'kalmanHedge: y');
  const xx = toFinite(x, 'kalmanHedge: x');
  sameLength(yy, xx, 'kalmanHedge: y', 'x');
  const { delta, ve } = opts ?? ({} as KalmanHedgeOptions);
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new StatsError('invalid-argument', `kalmanHedge: delta must be a number in (0, 1), got ${String(delta)}`);
  }
  if (typeof ve !== 'number' || !(ve > 0) || !Number.isFinite(ve)) {
    throw new StatsError('invalid-argument', `kalmanHedge: ve must be a positive finite number, got ${String(ve)}`);
  }
  const filter = new KalmanHedge(delta, ve);
  const n = yy.length;
  const out: KalmanHedgeResult = {
    beta: new Float64Array(n),
    alpha: new Float64Array(n),
    e: new Float64Array(n),
    q: new Float64Array(n),
  };
  for (let t = 0; t < n; t++) {
    filter.update(xx[t] as number, yy[t] as number);
    out.beta[t] = filter.beta;
    out.alpha[t] = filter.alpha;
    out.e[t] = filter.e;
    out.q[t] = filter.q;
  }
  return out;
}

/** Everything the filter needs to continue exactly where it was (θ and the symmetric P). */
export interface KalmanHedgeState {
  beta: number;
  alpha: number;
  p00: number;
  p01: number;
  p11: number;
}

/**
 * The same filter one bar at a time (O(1) per bar) for the live loop. `getState()` /
 * `KalmanHedge.fromState()` save and resume it bit-for-bit (e.g. across an engine restart).
 */
export class KalmanHedge {
  beta = 0;
  alpha = 0;
  /** Forecast error and its variance from the latest update. */
  e = NaN;
  q = NaN;
  private p00 = 0;
  private p01 = 0;
  private p11 = 0;
  private readonly vw: number;

  constructor(
    readonly delta: number,
    readonly ve: number,
  ) {
    if (!(delta > 0 && delta < 1)) throw new StatsError('invalid-argument', `KalmanHedge: delta must be in (0, 1), got ${String(delta)}`);
    if (!(ve > 0) || !Number.isFinite(ve)) throw new StatsError('invalid-argument', `KalmanHedge: ve must be positive, got ${String(ve)}`);
    this.vw = delta / (1 - delta);
  }

  /** Feed bar (x_t, y_t); afterwards beta/alpha are the updated state, e/q the forecast error and variance. */
  update(x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new StatsError('non-finite', `KalmanHedge.update: x = ${String(x)}, y = ${String(y)}; both must be finite`);
    }
    const r00 = this.p00 + this.vw;
    const r01 = this.p01;
    const r11 = this.p11 + this.vw;
    const yhat = this.beta * x + this.alpha;
    const rh0 = r00 * x + r01; // R·hᵀ
    const rh1 = r01 * x + r11;
    const q = x * rh0 + rh1 + this.ve;
    const e = y - yhat;
    const k0 = rh0 / q;
    const k1 = rh1 / q;
    this.beta += k0 * e;
    this.alpha += k1 * e;
    // P = R − K·(h·R) and h·R = (R·hᵀ)ᵀ since R is symmetric.
    this.p00 = r00 - k0 * rh0;
    this.p01 = r01 - k0 * rh1;
    this.p11 = r11 - k1 * rh1;
    this.e = e;
    this.q = q;
  }

  /** θ and P after the latest update: pass to `KalmanHedge.fromState` to resume exactly here. */
  getState(): KalmanHedgeState {
    return { beta: this.beta, alpha: this.alpha, p00: this.p00, p01: this.p01, p11: this.p11 };
  }

  /** A filter resumed from a saved state (same delta and ve as the one that produced it). */
  static fromState(delta: number, ve: number, state: KalmanHedgeState): KalmanHedge {
    const k = new KalmanHedge(delta, ve);
    for (const f of ['beta', 'alpha', 'p00', 'p01', 'p11'] as const) {
      const v = (state as unknown as Record<string, unknown> | null)?.[f];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new StatsError('invalid-argument', `KalmanHedge.fromState: field ${f} is ${String(v)}; expected a finite number`);
      }
    }
    k.beta = state.beta;
    k.alpha = state.alpha;
    k.p00 = state.p00;
    k.p01 = state.p01;
    k.p11 = state.p11;
    return k;
  }

  /** The signal e/√Q of the latest update. */
  get z(): number {
    return this.e / Math.sqrt(this.q);
  }
}
