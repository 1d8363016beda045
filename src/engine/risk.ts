/**
 * Pre-trade risk checks. Pure functions of the limits, the current positions and the proposed
 * orders, so they are cheap (they run on the decision path) and easy to test.
 *
 * Orders that only reduce exposure (exits, stops, flattening) pass the size limits: refusing them
 * would keep risk on. Market hours apply to every order: nothing is sent while the market is closed.
 */
import { UserError } from '../util/errors.ts';
import type { SecType } from '../brokers/types.ts';
import { isTradable, nyTime } from './market-hours.ts';

export interface RiskLimits {
  /** Max sum over legs of |qty| x price after the trade, in account currency. */
  maxGrossNotional: number;
  /** Max |qty| x price of any one leg after the trade. */
  maxPositionNotional: number;
  /** Loss from the day's starting equity that flattens and stops the engine (positive number). */
  maxDailyLoss: number;
  /** Allow stock orders outside regular hours (pre/post market). */
  allowOutsideRth: boolean;
}

export interface ProposedLeg {
  symbol: string;
  secType: SecType;
  /** Signed position before the trade. */
  currentQty: number;
  /** Signed position after the trade. */
  targetQty: number;
  price: number;
}

export type RiskVerdict = { ok: true } | { ok: false; reason: string };

export function checkOrders(limits: RiskLimits, legs: ProposedLeg[], eventTime: number): RiskVerdict {
  for (const l of legs) {
    if (l.targetQty === l.currentQty) continue;
    if (!isTradable(l.secType, eventTime, limits.allowOutsideRth)) {
      return { ok: false, reason: `market closed for ${l.symbol} (${l.secType}) at ${new Date(eventTime).toISOString()}` };
    }
  }
  const reducing = legs.every((l) => Math.abs(l.targetQty) <= Math.abs(l.currentQty) && Math.sign(l.targetQty) * Math.sign(l.currentQty) >= 0);
  if (reducing) return { ok: true };
  let gross = 0;
  for (const l of legs) {
    const n = Math.abs(l.targetQty) * l.price;
    if (n > limits.maxPositionNotional) {
      return { ok: false, reason: `position in ${l.symbol} would be ${n.toFixed(2)}, above risk.maxPositionNotional ${limits.maxPositionNotional}` };
    }
    gross += n;
  }
  if (gross > limits.maxGrossNotional) {
    return { ok: false, reason: `gross notional would be ${gross.toFixed(2)}, above risk.maxGrossNotional ${limits.maxGrossNotional}` };
  }
  return { ok: true };
}

/** Tracks the trading day's starting equity and says when the daily loss limit is hit. */
export class DailyLossGuard {
  private day = '';
  private startEquity = NaN;

  constructor(private readonly maxDailyLoss: number) {}

  /** Returns the loss when the limit is breached, else undefined. */
  update(eventTime: number, equity: number): number | undefined {
    const d = nyTime(eventTime).date;
    if (d !== this.day) {
      this.day = d;
      this.startEquity = equity;
    }
    const loss = this.startEquity - equity;
    return loss >= this.maxDailyLoss ? loss : undefined;
  }

  get dayStartEquity(): number {
    return this.startEquity;
  }
}

/**
 * Legs that cannot be sold short (crypto at IBKR) are refused at start-up unless the strategy holds
 * only the leg it would buy (`shortMode: long-only`).
 */
export function checkShortability(legs: { symbol: string; secType: SecType }[], shortMode: string, where: string): void {
  if (shortMode === 'long-only') return;
  const unshortable = legs.filter((l) => l.secType === 'CRYPTO');
  if (unshortable.length > 0) {
    throw new UserError(
      `${where}: ${unshortable.map((l) => l.symbol).join(', ')} cannot be sold short at IBKR (crypto), but the ` +
        `strategy uses shortMode: hedge, which shorts one leg. Set \`shortMode: long-only\` in the strategy file.`,
    );
  }
}
