/**
 * What the journal knows of an order only grows (issue 12): the rule both journals apply, the
 * SQLite one (journal.ts) and the in-memory one of backtests (memory-journal.ts). Kept apart from
 * journal.ts so a backtest loads no SQLite module.
 */
import type { JournalOrder, JournalOrderState } from './journal.ts';

// ---- forward-only order states (issue 12) ------------------------------------------------------
// A junk answer once moved an order journalled as filled to "never placed". What the journal knows
// only grows: a state change that would move an order back is refused (the order keeps its state,
// and the refusal is journalled as an event), and the filled quantity never shrinks.

const STATE_RANK: Record<JournalOrderState, number> = {
  new: 0, unknown: 1, working: 2, partial: 3, filled: 4, cancelled: 4, rejected: 4,
};

/**
 * "Never placed" (the broker does not know the cOID) is the one provisional end: it can only be
 * said of an order the broker may never have seen, and the order may still turn up afterwards.
 */
export const NEVER_PLACED = 'never placed';

/** The state an update may move the order to: `next`, or `cur` when `next` would go backwards. */
export function forwardState(cur: Pick<JournalOrder, 'state' | 'lastError' | 'brokerOrderId'>, next: JournalOrderState, error?: string): JournalOrderState {
  if (next === cur.state) return next;
  const provisional = cur.state === 'rejected' && (cur.lastError ?? '').includes(NEVER_PLACED);
  if (provisional) return next; // seen at the broker after all: whatever it says is news
  if (STATE_RANK[cur.state] === 4) return cur.state; // filled, cancelled, rejected are final
  if (next === 'rejected' && (error ?? '').includes(NEVER_PLACED) && (STATE_RANK[cur.state] >= 2 || cur.brokerOrderId)) return cur.state;
  return STATE_RANK[next] >= STATE_RANK[cur.state] ? next : cur.state;
}
// ---- end forward-only order states --------------------------------------------------------------
