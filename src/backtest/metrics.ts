/**
 * Backtest metrics (docs/strategy.md, "Equity and metrics"), accumulated one equity value at a
 * time so no per-bar array is needed: Welford's running mean/variance of per-bar returns, a
 * running peak for the drawdown.
 */
import { barMinutes, type SecType } from '../strategies/cointegration/params.ts';

export interface Metrics {
  totalReturn: number;
  cagr: number;
  sharpe: number;
  maxDrawdown: number;
  trades: number;
  winRate: number;
  avgHoldingBars: number;
  commissions: number;
}

/**
 * Bars per year B. STK (or legs of different types): 252 trading days of 390 minutes; CRYPTO:
 * 365 days of 1440 minutes. Bars of a day or more: 252 (365) per year divided by the days a bar spans.
 */
export function barsPerYear(secTypes: readonly SecType[], bar: string): number {
  const minutes = barMinutes(bar);
  const crypto = secTypes.length > 0 && secTypes.every((s) => s === 'CRYPTO');
  if (crypto) return (365 * 1440) / minutes;
  return minutes >= 1440 ? (252 * 1440) / minutes : (252 * 390) / minutes;
}

export class EquityStats {
  private n = 0;
  private first = 0;
  private last = 0;
  private prev = 0;
  private peak = -Infinity;
  private maxDd = 0;
  // Welford over per-bar returns.
  private rn = 0;
  private rMean = 0;
  private rM2 = 0;

  push(equity: number): void {
    if (this.n === 0) this.first = equity;
    else {
      const r = equity / this.prev - 1;
      this.rn++;
      const d = r - this.rMean;
      this.rMean += d / this.rn;
      this.rM2 += d * (r - this.rMean);
    }
    this.n++;
    this.prev = equity;
    this.last = equity;
    if (equity > this.peak) this.peak = equity;
    const dd = this.peak > 0 ? (this.peak - equity) / this.peak : 0;
    if (dd > this.maxDd) this.maxDd = dd;
  }

  get count(): number {
    return this.n;
  }

  get lastEquity(): number {
    return this.last;
  }

  get firstEquity(): number {
    return this.first;
  }

  /** sharpe, cagr, totalReturn, maxDrawdown given the starting cash and B. */
  summary(startingCash: number, B: number): Pick<Metrics, 'totalReturn' | 'cagr' | 'sharpe' | 'maxDrawdown'> {
    const totalReturn = this.n > 0 ? this.last / startingCash - 1 : 0;
    const sd = this.rn >= 2 ? Math.sqrt(this.rM2 / (this.rn - 1)) : 0;
    const sharpe = sd > 0 ? (this.rMean / sd) * Math.sqrt(B) : 0;
    const growth = this.last / startingCash;
    const cagr = this.n >= 2 ? (growth > 0 ? Math.pow(growth, B / (this.n - 1)) - 1 : -1) : 0;
    return { totalReturn, cagr, sharpe, maxDrawdown: this.maxDd };
  }
}
