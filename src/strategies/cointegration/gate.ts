/**
 * The cointegration gate (docs/strategy.md, "Cointegration gate"): every `gate.every` bars from
 * t = W−1, an Engle–Granger test (y on x, constant, ADF lag by AIC up to the default maximum) over
 * the last `gate.lookback` transformed prices. Open while the latest p-value <= maxPValue; closed
 * while fewer than `gate.lookback` bars exist, and closed when the test cannot be computed.
 */
import { engleGranger } from '../../stats/index.ts';
import type { GateConfig } from './params.ts';
import type { PriceHistory } from './price-history.ts';

export interface GateState {
  open: boolean;
  pValue: number | null;
}

export class CointegrationGate {
  open = false;
  pValue: number | null = null;

  constructor(
    private readonly cfg: GateConfig,
    private readonly lookback: number,
  ) {}

  /** Runs the test when bar `t` is a check bar; returns whether it did. */
  maybeCheck(t: number, history: PriceHistory): boolean {
    const first = this.lookback - 1;
    if (t < first || (t - first) % this.cfg.every !== 0) return false;
    if (t + 1 < this.cfg.lookback || history.length < this.cfg.lookback) {
      this.open = false;
      this.pValue = null;
      return true;
    }
    const { x, y } = history.last(this.cfg.lookback);
    try {
      const res = engleGranger(y, x, { trend: 'c', autoLag: 'aic' });
      this.pValue = Number.isFinite(res.pValue) ? res.pValue : null;
    } catch {
      // A degenerate window (a constant leg, a perfect fit) has no test: keep entries out.
      this.pValue = null;
    }
    this.open = this.pValue !== null && this.pValue <= this.cfg.maxPValue;
    return true;
  }

  saveState(): GateState {
    return { open: this.open, pValue: this.pValue };
  }

  restore(s: GateState): void {
    this.open = Boolean(s.open);
    this.pValue = typeof s.pValue === 'number' ? s.pValue : null;
  }
}
