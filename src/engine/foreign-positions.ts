/**
 * Which of the broker's positions are foreign: the one classification, used by the node (at start,
 * at each reconnect and on the portfolio timer) and by `tandem doctor` (against the journal), so the
 * two can never disagree about what "foreign" means or say it in different words.
 *
 * IBKR holds one net position per contract. The strategies' books (the journal's positions per
 * strategy) add up to what this journal's strategies hold; whatever the broker holds beyond that,
 * per contract, is foreign: another program's, a manual trade's, or a fill the journal missed. It is
 * reported, never adopted, and never counted in a strategy's equity.
 */
import type { Position } from '../brokers/types.ts';
import { roundQty } from './portfolio.ts';

export interface ForeignPosition {
  conid: number;
  symbol: string;
  /** Broker quantity minus the books' sum (signed). */
  qty: number;
  brokerQty: number;
  booksQty: number;
}

/** One strategy's holding of one contract, as its book (or the journal) has it. */
export interface BookHolding {
  conid: number;
  symbol?: string | undefined;
  qty: number;
}

/**
 * Broker position minus the books' sum, per contract, where non-zero (sorted by conid). `symbolOf`
 * names a contract first (the node's resolved instruments), then the broker's or the book's symbol.
 */
export function foreignPositions(broker: readonly Position[], books: readonly BookHolding[], symbolOf: (conid: number) => string | undefined = () => undefined): ForeignPosition[] {
  const booked = new Map<number, number>();
  const names = new Map<number, string>();
  for (const h of books) {
    booked.set(h.conid, roundQty((booked.get(h.conid) ?? 0) + h.qty));
    if (h.symbol) names.set(h.conid, h.symbol);
  }
  const conids = new Set<number>([...broker.map((p) => p.conid), ...booked.keys()]);
  const out: ForeignPosition[] = [];
  for (const c of [...conids].sort((a, b) => a - b)) {
    const p = broker.find((q) => q.conid === c);
    const brokerQty = roundQty(p?.qty ?? 0);
    const booksQty = booked.get(c) ?? 0;
    const qty = roundQty(brokerQty - booksQty);
    if (qty === 0) continue;
    out.push({ conid: c, symbol: symbolOf(c) ?? p?.symbol ?? names.get(c) ?? String(c), qty, brokerQty, booksQty });
  }
  return out;
}

/** One line for a foreign position; `tradedBy` are the strategies of this journal that trade the contract. */
export function describeForeign(f: ForeignPosition, tradedBy: readonly string[]): string {
  return tradedBy.length
    ? `the broker holds ${f.brokerQty} ${f.symbol}, the strategies' books ${f.booksQty}; the difference (${f.qty}) is not adopted and not in any strategy's equity`
    : `${f.qty} ${f.symbol} at the broker was not traded by any strategy of this journal; not adopted, not in any strategy's equity`;
}
