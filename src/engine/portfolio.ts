/**
 * Positions and cash as the engine tracks them between portfolio syncs: updated at every fill,
 * marked at the latest prices. In paper mode the cash is the engine's own book (it starts at
 * `paper.startingCash` and moves with the fills), so sizing does not depend on the paper account's
 * balance; in live mode equity is the account's net liquidation value from the portfolio summary.
 */
import type { Side } from '../brokers/types.ts';

export interface Holding {
  conid: number;
  symbol: string;
  qty: number;
  avgCost: number;
}

export class Portfolio {
  private readonly holdings = new Map<number, Holding>();
  private readonly prices = new Map<number, number>();
  /** Live mode: the latest net liquidation value from the broker (null in paper mode). */
  brokerEquity: number | null = null;

  constructor(public cash: number) {}

  qty(conid: number): number {
    return this.holdings.get(conid)?.qty ?? 0;
  }

  all(): Holding[] {
    return [...this.holdings.values()].filter((h) => h.qty !== 0);
  }

  setPrice(conid: number, price: number): void {
    this.prices.set(conid, price);
  }

  price(conid: number): number | undefined {
    return this.prices.get(conid);
  }

  /** Applies one fill: quantity, average cost and (paper book) cash. */
  applyFill(conid: number, symbol: string, side: Side, qty: number, price: number, commission: number): void {
    const signed = side === 'BUY' ? qty : -qty;
    const h = this.holdings.get(conid) ?? { conid, symbol, qty: 0, avgCost: 0 };
    const newQty = roundQty(h.qty + signed);
    if (newQty === 0) h.avgCost = 0;
    else if (Math.sign(h.qty) === Math.sign(signed) || h.qty === 0) h.avgCost = (h.avgCost * Math.abs(h.qty) + price * qty) / Math.abs(newQty);
    else if (Math.sign(newQty) !== Math.sign(h.qty)) h.avgCost = price; // crossed through zero
    h.qty = newQty;
    this.holdings.set(conid, h);
    this.cash -= signed * price + commission;
  }

  /** Replaces a holding with what the broker reports. */
  setHolding(conid: number, symbol: string, qty: number, avgCost: number): void {
    this.holdings.set(conid, { conid, symbol, qty: roundQty(qty), avgCost });
  }

  /** Cash plus positions marked at the latest prices (or avg cost when no price yet). */
  markedEquity(): number {
    let e = this.cash;
    for (const h of this.holdings.values()) e += h.qty * (this.prices.get(h.conid) ?? h.avgCost);
    return e;
  }

  grossNotional(): number {
    let g = 0;
    for (const h of this.holdings.values()) g += Math.abs(h.qty) * (this.prices.get(h.conid) ?? h.avgCost);
    return g;
  }
}

/** Quantities are rounded to 1e-8 so crypto fractions add up without floating dust. */
export function roundQty(q: number): number {
  return Math.round(q * 1e8) / 1e8;
}
