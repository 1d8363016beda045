/**
 * Round trips from fills: what a trader calls "a trade" of a pair strategy — from the first fill
 * that takes the strategy out of flat to the fill that makes it flat again — with its P&L (cash in
 * minus cash out, commissions included), entry and exit reasons from the journalled decisions.
 *
 * It works on fills alone (not on decisions), so legging retries, partial fills, flattens by the
 * kill switch and positions closed by hand all end up in the trade they belong to.
 */
import type { ReaderDecision, ReaderFill, ReaderOrder } from './journal-reader.ts';

export interface RoundTrip {
  strategyId: string;
  /** 1-based per strategy. */
  n: number;
  /** LONG = long the spread (long y), SHORT = short the spread; from the first fill of the y leg when known. */
  side: 'LONG' | 'SHORT' | '?';
  entryTime: number;
  exitTime: number | null;
  /** The decision bars (from the orders' intent ids `enter-<bar>` / `close-<bar>`), when known. */
  entryBar: number | null;
  exitBar: number | null;
  entryReason: string | null;
  exitReason: string | null;
  /** Symbol -> signed quantity at the largest point of the trip. */
  legs: Record<string, number>;
  fills: number;
  commission: number;
  /** Realised P&L for a closed trip; for an open one, marked at `marks` when given (else null). */
  pnl: number | null;
  open: boolean;
}

const EPS = 1e-8;

/** The decision behind an order's intent id (`enter-<barTime>`, `close-<barTime>`, `flatten-<why>-<ms>`). */
function reasonFor(intentId: string | undefined, decisionsByBar: Map<string, string>, strategyId: string): string | null {
  if (!intentId) return null;
  const m = /^(enter|close)-(\d+)$/.exec(intentId);
  if (m) {
    const action = decisionsByBar.get(`${strategyId}|${m[2]}`);
    if (action) return action.replace(/^(enter|close)-(LONG|SHORT)-?/, (_s, a: string) => (a === 'enter' ? 'entry' : '')) || 'entry';
    return m[1] === 'enter' ? 'entry' : 'exit';
  }
  const f = /^flatten-([a-z-]+?)-\d+$/.exec(intentId);
  if (f) return `flatten (${f[1]})`;
  return intentId.split('-')[0] ?? null;
}

export function roundTrips(
  fills: ReaderFill[],
  orders: ReaderOrder[],
  decisions: ReaderDecision[],
  opts: { ySymbols?: Record<string, string>; marks?: Record<string, number> } = {},
): RoundTrip[] {
  const orderBy = new Map(orders.map((o) => [o.cOID, o]));
  const decisionsByBar = new Map<string, string>();
  for (const d of decisions) if (d.action !== 'refused') decisionsByBar.set(`${d.strategyId}|${d.barTime}`, d.action);
  const byStrategy = new Map<string, ReaderFill[]>();
  for (const f of fills) byStrategy.set(f.strategyId, [...(byStrategy.get(f.strategyId) ?? []), f]);

  const out: RoundTrip[] = [];
  for (const [sid, list] of byStrategy) {
    const pos = new Map<string, number>();
    let trip: (RoundTrip & { cash: number }) | null = null;
    let n = 0;
    for (const f of list) {
      const signed = f.side === 'BUY' ? f.qty : -f.qty;
      const order = f.cOID ? orderBy.get(f.cOID) : undefined;
      if (!trip) {
        n++;
        trip = { strategyId: sid, n, side: '?', entryTime: f.time, exitTime: null, entryBar: barOf(order?.intentId), exitBar: null, entryReason: reasonFor(order?.intentId, decisionsByBar, sid), exitReason: null, legs: {}, fills: 0, commission: 0, pnl: null, open: true, cash: 0 };
      }
      const q = Math.round(((pos.get(f.symbol) ?? 0) + signed) * 1e8) / 1e8;
      pos.set(f.symbol, q);
      trip.fills++;
      trip.commission += f.commission;
      trip.cash += -signed * f.price - f.commission;
      if (Math.abs(q) > Math.abs(trip.legs[f.symbol] ?? 0)) trip.legs[f.symbol] = q;
      const isY = order ? order.leg === 'y' : opts.ySymbols?.[sid] === f.symbol;
      if (trip.side === '?' && isY) trip.side = signed > 0 ? 'LONG' : 'SHORT';
      if ([...pos.values()].every((v) => Math.abs(v) < EPS)) {
        trip.exitTime = f.time;
        trip.exitBar = barOf(order?.intentId);
        trip.exitReason = reasonFor(order?.intentId, decisionsByBar, sid);
        trip.open = false;
        trip.pnl = round2(trip.cash);
        const { cash: _cash, ...done } = trip;
        out.push(done);
        trip = null;
      }
    }
    if (trip) {
      const marks = opts.marks;
      let pnl: number | null = null;
      if (marks && [...pos.entries()].every(([s, q]) => Math.abs(q) < EPS || marks[s] !== undefined)) {
        pnl = round2(trip.cash + [...pos.entries()].reduce((s, [sym, q]) => s + q * (marks[sym] ?? 0), 0));
      }
      const { cash: _cash, ...rest } = trip;
      out.push({ ...rest, pnl });
    }
  }
  return out.sort((a, b) => a.entryTime - b.entryTime);
}

function barOf(intentId: string | undefined): number | null {
  const m = intentId ? /^(?:enter|close)-(\d+)$/.exec(intentId) : null;
  return m ? Number(m[1]) : null;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
