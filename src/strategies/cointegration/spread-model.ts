/**
 * The hedge and the spread's z-score at each bar close (docs/strategy.md, "Hedge ratio and
 * spread"): rolling OLS over the last W bars (O(1) a bar), or the Kalman filter. The statistics
 * themselves live in src/stats; this module only adapts them to the strategy and its saved state.
 */
import { KalmanHedge, RollingOls, type KalmanHedgeState } from '../../stats/index.ts';
import type { CointegrationParams } from './params.ts';
import type { PriceHistory } from './price-history.ts';

export interface SpreadEstimate {
  /** z_t; null when undefined (x constant over the window, or a perfect fit). */
  z: number | null;
  beta: number;
  alpha: number;
}

export interface SpreadModel {
  /**
   * Pushes bar t's transformed prices; the estimate at its close, or null when none exists. The
   * estimate is the model's own object, filled again by the next update (a bar's object is read
   * within the bar: a million bars made a million of them to collect).
   */
  update(px: number, py: number): SpreadEstimate | null;
  /** What a saved state must carry beyond the price history (null: rebuilt from the history). */
  saveState(): unknown;
}

class OlsSpread implements SpreadModel {
  private readonly ols: RollingOls;
  private readonly est: SpreadEstimate = { z: null, beta: 0, alpha: 0 };
  constructor(window: number) {
    this.ols = new RollingOls(window);
  }

  update(px: number, py: number): SpreadEstimate | null {
    const o = this.ols;
    o.push(px, py);
    if (!o.ready) return null;
    try {
      const est = this.est;
      est.beta = o.beta;
      est.alpha = o.alpha;
      est.z = o.isDegenerate ? null : o.latestZ;
      return est;
    } catch {
      return null; // x constant over the window: no hedge ratio at all
    }
  }

  saveState(): unknown {
    return null;
  }
}

class KalmanSpread implements SpreadModel {
  private readonly k: KalmanHedge;
  private readonly est: SpreadEstimate = { z: null, beta: 0, alpha: 0 };
  constructor(delta: number, ve: number, saved?: KalmanHedgeState | null) {
    // fromState validates every field, so a damaged saved state fails loudly instead of resuming a wrong filter.
    this.k = saved ? KalmanHedge.fromState(delta, ve, saved) : new KalmanHedge(delta, ve);
  }

  update(px: number, py: number): SpreadEstimate | null {
    const k = this.k;
    k.update(px, py);
    const z = k.z;
    const est = this.est;
    est.z = Number.isFinite(z) ? z : null;
    est.beta = k.beta;
    est.alpha = k.alpha;
    return est;
  }

  saveState(): KalmanHedgeState {
    return this.k.getState();
  }
}

/**
 * A fresh model, or one restored: the Kalman filter from its saved θ and P, the rolling OLS by
 * replaying the last W points of the saved price history.
 */
export function createSpreadModel(params: CointegrationParams, saved?: unknown, history?: PriceHistory): SpreadModel {
  const h = params.hedge;
  if (h.method === 'kalman') return new KalmanSpread(h.delta, h.ve, saved as KalmanHedgeState | null | undefined);
  const m = new OlsSpread(params.lookback);
  if (history) {
    const n = Math.min(history.length, params.lookback);
    const { x, y } = history.last(n);
    for (let i = 0; i < n; i++) m.update(x[i]!, y[i]!);
  }
  return m;
}
