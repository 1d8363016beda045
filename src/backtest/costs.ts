/**
 * Fill prices and commissions of the backtest (docs/strategy.md, "Fills in the backtest").
 */
import type { CommissionModel } from '../strategies/cointegration/params.ts';
import type { OrderSide } from '../strategies/types.ts';

/** Buys pay open·(1+s), sells get open·(1−s), s = slippageBps / 10,000. */
export function fillPrice(open: number, side: OrderSide, slippageBps: number): number {
  const s = slippageBps / 10_000;
  return side === 'BUY' ? open * (1 + s) : open * (1 - s);
}

/**
 * Commission of one fill of |qty| at `price`:
 * per-share: max(minimum, perShare·|q|), then capped at maxPctOfValue·|q|·price when a cap is set;
 * percent:   max(minimum, pct·|q|·price).
 */
export function commission(model: CommissionModel, qty: number, price: number): number {
  const q = Math.abs(qty);
  if (q === 0) return 0;
  if (model.model === 'per-share') {
    const c = Math.max(model.minimum, model.perShare * q);
    return model.maxPctOfValue !== undefined ? Math.min(c, model.maxPctOfValue * q * price) : c;
  }
  return Math.max(model.minimum, model.pct * q * price);
}
