/**
 * The report's trade rows and breakdowns. A trade record holds its decision bars and quantities;
 * its fill prices and times are in the run's fills, in order: each trade's entry fills (one per
 * traded leg) come before its exit fills, and trades never overlap (one position at a time), so
 * one walk over the fills pairs them up without the runner keeping anything more.
 */
import type { TradeSide } from '../../strategies/types.ts';
import type { ExitReason } from '../runner.ts';
import type { BacktestResult, FillRecord } from '../runner.ts';

export interface TradeRow {
  n: number;
  side: TradeSide;
  /** Decision bars (closes) and fill times (next opens). */
  entryDecision: number;
  entryFill: number | null;
  exitDecision: number | null;
  exitFill: number | null;
  /** Fill prices per leg (null when the leg is not held, or not filled yet). */
  entryPriceY: number | null;
  entryPriceX: number | null;
  exitPriceY: number | null;
  exitPriceX: number | null;
  qtyY: number;
  qtyX: number;
  pnl: number;
  holdingBars: number | null;
  /** Exit fill minus entry fill, ms. */
  holdingMs: number | null;
  exitReason: ExitReason | null;
}

function take(fills: FillRecord[], from: number, legs: number): { y: number | null; x: number | null; time: number | null; next: number } {
  let y: number | null = null;
  let x: number | null = null;
  let time: number | null = null;
  let i = from;
  for (; i < from + legs && i < fills.length; i++) {
    const f = fills[i]!;
    if (f.leg === 'y') y = f.price;
    else x = f.price;
    time = f.time;
  }
  return { y, x, time, next: i };
}

export function tradeRows(r: BacktestResult): TradeRow[] {
  let k = 0;
  return r.trades.map((t, i) => {
    const legs = (t.qtyY !== 0 ? 1 : 0) + (t.qtyX !== 0 ? 1 : 0);
    const entry = take(r.fills, k, legs);
    k = entry.next;
    let exit: ReturnType<typeof take> = { y: null, x: null, time: null, next: k };
    if (t.exitReason !== null) {
      exit = take(r.fills, k, legs);
      k = exit.next;
    }
    return {
      n: i + 1,
      side: t.side,
      entryDecision: t.entryTime,
      entryFill: entry.time,
      exitDecision: t.exitTime,
      exitFill: exit.time,
      entryPriceY: entry.y,
      entryPriceX: entry.x,
      exitPriceY: exit.y,
      exitPriceX: exit.x,
      qtyY: t.qtyY,
      qtyX: t.qtyX,
      pnl: t.pnl,
      holdingBars: t.exitBar === null ? null : t.exitBar - t.entryBar,
      holdingMs: exit.time !== null && entry.time !== null ? exit.time - entry.time : null,
      exitReason: t.exitReason,
    };
  });
}

export interface BreakdownRow {
  key: string;
  trades: number;
  wins: number;
  pnl: number;
}

/** Trades grouped by a key (exit reason, exit day...), keys in first-seen order unless sorted. */
export function breakdown(rows: TradeRow[], key: (r: TradeRow) => string): BreakdownRow[] {
  const by = new Map<string, BreakdownRow>();
  for (const r of rows) {
    const k = key(r);
    let b = by.get(k);
    if (!b) by.set(k, (b = { key: k, trades: 0, wins: 0, pnl: 0 }));
    b.trades++;
    if (r.pnl > 0) b.wins++;
    b.pnl += r.pnl;
  }
  return [...by.values()];
}

/** `2h 35m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
