/**
 * A naked leg is a legging failure, wherever it is found.
 *
 * Why: a crash between the two orders of a pair (first leg sent and filled, second journalled but
 * never sent) leaves the strategy's book holding one leg. The restart used to adopt it with a warning
 * and keep it for hours: an unhedged position nobody decided on (issue 12, item 2). The pair executor
 * handles a failed second leg while it runs; this module handles what a crash left behind.
 *
 * At start, and after each reconciliation, every hedged strategy (shortMode hedge: a position is two
 * legs of opposite sides) whose book holds exactly one leg, and which has no decision or order in
 * flight, is halted for new decisions and its naked leg is acted on, loudly (ERROR log, incident):
 *  - `flatten` (default): the lone leg is closed;
 *  - `complete`: the missing leg is sent as the journal says it was intended (the unfilled order of the
 *    same decision); if that order cannot be found or does not fill, the lone leg is flattened.
 * Each attempt is bounded by `nakedLegTimeoutSeconds`. While the leg's market is closed nothing is
 * sent: that is said loudly once, and the action runs when the market opens. A strategy whose
 * positions are disputed with the broker is left alone (position-check.ts halts it; acting would
 * trade on a wrong picture). Long-only strategies hold one leg by design and are not checked.
 */
import type { Logger } from '../log/logger.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import type { NodeEvent } from './events.ts';
import { isTradable } from './market-hours.ts';
import { sleep } from './order-manager.ts';
import type { ExecLeg } from './pair-executor.ts';
import type { RiskEngine } from './risk.ts';
import { iso, msg, type StrategyRunner } from './strategy-runner.ts';

export type NakedLegAction = 'complete' | 'flatten';
const REASON = 'naked leg';

export interface NakedLegOptions {
  action: NakedLegAction;
  timeoutMs: number;
  /** How often to look again while the market is closed (real ms). */
  closedPollMs?: number;
  allowOutsideRth: boolean;
  journal: Journal;
  logger: Logger;
  risk: RiskEngine;
  emit: (e: NodeEvent) => void;
  /** The market's clock (event time). */
  now: () => number;
  isDisputed: (strategyId: string) => boolean;
  hasOrdersInFlight: (strategyId: string) => boolean;
  /** A price for a leg when none is known yet (crypto cash quantities). */
  price: (leg: ExecLeg) => Promise<number>;
  stopped: () => boolean;
}

export class NakedLegs {
  private readonly active = new Map<string, Promise<void>>();
  /** Longest time a naked leg was held, from detection to resolution (ms, wall clock). */
  longestMs = 0;

  constructor(private readonly o: NakedLegOptions) {}

  /** Looks at every runner; acts (in the background) on each naked leg found. */
  check(runners: StrategyRunner[], when: string): void {
    for (const r of runners) {
      if (this.active.has(r.id) || this.o.stopped()) continue;
      if (!this.lone(r) || r.busy || this.o.hasOrdersInFlight(r.id) || this.o.isDisputed(r.id)) continue;
      const p = this.resolve(r, when)
        .catch((err: unknown) => this.o.logger.error({ strategy: r.id, err: msg(err) }, 'NAKED LEG: acting on it failed; check the account'))
        .finally(() => this.active.delete(r.id));
      this.active.set(r.id, p);
    }
  }

  get busy(): boolean {
    return this.active.size > 0;
  }

  /** Resolves when every naked-leg action in progress is done. */
  async whenDone(): Promise<void> {
    await Promise.all([...this.active.values()]);
  }

  /** The lone leg of a hedged strategy, or null. */
  private lone(r: StrategyRunner): ExecLeg | null {
    if (r.spec.shortMode === 'long-only') return null;
    const legs = r.flattenLegs();
    return legs.length === 1 ? legs[0]! : null;
  }

  private async resolve(r: StrategyRunner, when: string): Promise<void> {
    const { o } = this;
    const since = Date.now();
    const first = this.lone(r)!;
    const what = `${r.book.qty(first.instrument.conid)} ${first.instrument.symbol}`;
    o.risk.set(r.id, REASON, 'halted');
    o.logger.error({ strategy: r.id, when, leg: what, action: o.action }, `NAKED LEG: ${r.id} holds ${what} without its other leg (a legging failure, e.g. a crash between the legs); action: ${o.action}`);
    o.journal.recordIncident('naked-leg', { when, leg: what, action: o.action }, r.id);
    o.emit({ type: 'warn', message: `${r.id}: naked leg ${what} (legging failure): ${o.action === 'complete' ? 'completing the pair' : 'flattening it'}` });
    let saidClosed = false;
    try {
      for (;;) {
        if (o.stopped()) return;
        const leg = this.lone(r);
        if (!leg) break;
        if (o.isDisputed(r.id)) return;
        const now = o.now();
        if (!isTradable(leg.instrument.secType, now, o.allowOutsideRth)) {
          if (!saidClosed) {
            saidClosed = true;
            o.logger.error({ strategy: r.id, leg: what, marketTime: iso(now) }, `NAKED LEG: the market for ${leg.instrument.symbol} is closed at ${iso(now)}; ${r.id} stays halted and the naked leg is acted on at the open`);
            o.journal.recordIncident('naked-leg-waiting', { leg: what, marketTime: now }, r.id);
            o.emit({ type: 'warn', message: `${r.id}: naked leg ${what} kept until the market opens (closed at ${iso(now)})` });
          }
          await sleep(o.closedPollMs ?? 2_000);
          continue;
        }
        if (leg.price <= 0) leg.price = await o.price(leg);
        // A timed-out action is not followed by another (its order may still be working): it stays halted and loud.
        const done = o.action === 'complete' ? await this.bounded(this.complete(r, leg)) : false;
        if (done === false) await this.bounded(r.flatten('naked-leg'));
        break;
      }
    } finally {
      const left = this.lone(r);
      const heldMs = Date.now() - since;
      this.longestMs = Math.max(this.longestMs, heldMs);
      if (!left) {
        o.risk.set(r.id, REASON, null);
        o.logger.warn({ strategy: r.id, heldSeconds: Math.round(heldMs / 1000), positions: r.flattenLegs().map((l) => `${r.book.qty(l.instrument.conid)} ${l.instrument.symbol}`) }, 'naked leg resolved');
        o.journal.recordIncident('naked-leg-resolved', { leg: what, heldMs }, r.id);
      } else if (!o.stopped()) {
        o.logger.error({ strategy: r.id, left: `${r.book.qty(left.instrument.conid)} ${left.instrument.symbol}` }, `NAKED LEG NOT RESOLVED: ${r.id} still holds a lone leg; it stays halted, check the account`);
        o.journal.recordIncident('naked-leg-unresolved', { leg: what }, r.id);
      }
    }
  }

  /** Sends the missing leg as the journal says it was intended. True when the pair is whole. */
  private async complete(r: StrategyRunner, held: ExecLeg): Promise<boolean> {
    const missing = this.intendedMissingLeg(r, held);
    if (!missing) {
      this.o.logger.error({ strategy: r.id }, 'NAKED LEG: the intended other leg is not in the journal; flattening instead');
      return false;
    }
    missing.price = await this.o.price(missing);
    const res = await r.executeLegs(`naked-complete-${Date.now()}`, [missing]);
    return res.ok && this.lone(r) === null;
  }

  /** The unfilled other leg of the latest decision that filled the held leg. */
  private intendedMissingLeg(r: StrategyRunner, held: ExecLeg): ExecLeg | null {
    const orders = this.o.journal.orders(r.id);
    const filled = [...orders].reverse().find((x) => x.conid === held.instrument.conid && x.filledQty > 0);
    if (!filled) return null;
    const other = held.instrument.conid === r.legs.y.conid ? r.legs.x : r.legs.y;
    const sameIntent = orders.filter((x) => x.intentId === filled.intentId && x.conid === other.conid);
    const wanted = sameIntent.find((x) => !x.leg.includes('-'));
    if (!wanted || wanted.quantity === null) return null;
    const got = sameIntent.reduce((s, x) => s + x.filledQty, 0);
    const qty = wanted.quantity - got;
    if (!(qty > 0)) return null;
    return { name: `${wanted.leg}-complete`, instrument: other, side: wanted.side, qty, price: 0 };
  }

  private async bounded(p: Promise<boolean>): Promise<boolean | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.o.timeoutMs)));
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
