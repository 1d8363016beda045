/**
 * Stale decisions: a decision is only as good as its bar is fresh.
 *
 * Why: after a stall longer than the client timeout (an order placement hanging, the event loop
 * blocked), the bar builder kept closing bars and the runner then worked through the queue: 8 round
 * trips within 2 s on decisions up to 177 minutes old (issue 12, item 6). The market those decisions
 * looked at is gone. So a decision on a bar that ended more than `risk.maxBarAgeBars` bar lengths
 * before the newest tick of the strategy's legs (market time, so an accelerated simulator clock is
 * judged the same way) is skipped and logged; the strategy keeps the bar for its statistics and is
 * synced back to its book.
 */

/** Why the decision on this bar is stale, or null when it is fresh enough to act on. */
export function staleBarReason(barTime: number, barMinutes: number, newestTickTime: number, maxBarAgeBars: number): string | null {
  const barMs = barMinutes * 60_000;
  const age = newestTickTime - (barTime + barMs);
  if (!Number.isFinite(age) || age <= maxBarAgeBars * barMs) return null;
  const minutes = Math.round(age / 60_000);
  return `stale decision: the bar ended ${minutes} min before the newest tick (more than risk.maxBarAgeBars = ${maxBarAgeBars} bar${maxBarAgeBars === 1 ? '' : 's'}, after a stall); not traded`;
}
