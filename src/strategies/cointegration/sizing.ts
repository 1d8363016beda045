/**
 * Position sizing at entry (docs/strategy.md, "Sizing at entry"): gross notional from equity,
 * split between the legs by the hedge ratio, quantities rounded DOWN to each leg's increment.
 */
import type { TradeSide } from '../types.ts';
import type { CointegrationParams } from './params.ts';

/**
 * Rounds a quantity down to a multiple of `increment`. The 1e-9 (of one increment) tolerance keeps
 * binary floating point from losing a whole increment (0.3 / 0.0001 = 2999.9999999999995), and
 * the 12-decimal print removes the representation noise of k·increment (0.29990000000000006).
 */
export function roundDownToIncrement(qty: number, increment: number): number {
  if (!(qty > 0) || !Number.isFinite(qty)) return 0;
  const k = Math.floor(qty / increment + 1e-9);
  if (!(k > 0)) return 0;
  // Whole increments (shares): k·increment is an exact integer, nothing to print away (and a
  // backtest sizes tens of thousands of entries: the print cost ~0.2 µs each).
  return Number.isInteger(increment) ? k * increment : Number((k * increment).toFixed(12));
}

/** Signed quantities of an entry; null when the entry must be skipped (a quantity rounds to 0). */
export interface EntryQuantities {
  qtyY: number;
  qtyX: number;
}

export function sizeEntry(
  params: Pick<CointegrationParams, 'transform' | 'shortMode' | 'sizing' | 'legs'>,
  side: TradeSide,
  beta: number,
  closeY: number,
  closeX: number,
  equity: number,
): EntryQuantities | null {
  if (!(equity > 0) || !Number.isFinite(equity) || !Number.isFinite(beta)) return null;
  const gross = params.sizing.capitalFraction * equity;
  const incY = params.legs.y.qtyIncrement;
  const incX = params.legs.x.qtyIncrement;
  const dir = side === 'LONG' ? 1 : -1;

  if (params.shortMode === 'long-only') {
    // Only the leg that would be bought is held, sized with the full gross notional.
    if (side === 'LONG') {
      const qy = roundDownToIncrement(gross / closeY, incY);
      return qy > 0 ? { qtyY: qy, qtyX: 0 } : null;
    }
    // SHORT sells y and buys x only when b > 0; with b <= 0 no leg would be bought.
    if (!(beta > 0)) return null;
    const qx = roundDownToIncrement(gross / closeX, incX);
    return qx > 0 ? { qtyY: 0, qtyX: qx } : null;
  }

  const absB = Math.abs(beta);
  let rawY: number;
  let rawX: number;
  if (params.transform === 'log') {
    rawY = gross / (1 + absB) / closeY;
    rawX = (absB * gross) / (1 + absB) / closeX;
  } else {
    rawY = gross / (closeY + absB * closeX);
    rawX = absB * rawY;
  }
  const qy = roundDownToIncrement(rawY, incY);
  const qx = roundDownToIncrement(rawX, incX);
  if (qy === 0 || qx === 0) return null;
  // LONG the spread: buy y, sell x when b > 0 (buy it when b < 0). SHORT is the mirror.
  return { qtyY: dir * qy, qtyX: -dir * Math.sign(beta) * qx };
}
