/**
 * Reconciliation that doubts: the broker's positions answer is checked before anything trades on it.
 *
 * Why: IBKR's paged positions (`/portfolio/{acct}/positions/{page}`) come from a cache that lags
 * fills by seconds (ibind's maintainers added the uncached `/portfolio2` view for that, Voyz/ibind#8),
 * are sparse on the first read of a session and sometimes miss fields (Voyz/ibind#6), and the client
 * decodes a `{}` answer as "no rows". One such answer believed at a restart made the engine adopt
 * "flat" while a pair was held, enter on top of it and flatten one leg (issue 12, item 1).
 *
 * So a positions answer that contradicts the journal is trusted by no one: the journal's holding of a
 * traded contract missing at the broker (smaller, absent or of the other sign) is read again (the
 * broker implementation invalidates the cache before each read), the node then looks for executions
 * it missed (its own cross-check), and when the contradiction persists the strategies holding those
 * contracts are HALTED (no order, no flatten: either picture may be the wrong one), the contradiction
 * is logged at ERROR, journalled as an incident and told to the user per contract (journal qty vs
 * broker qty). A quantity that is not a finite, plausible number makes the whole answer bad: it is
 * read again, and while every answer is bad the account is halted. The halt is lifted by the first
 * answer that agrees again. A broker holding MORE than the books is not a contradiction of the
 * journal: the node reports that excess as foreign (its own job).
 */
import { BrokerError, type Position } from '../brokers/types.ts';
import type { Logger } from '../log/logger.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import type { NodeEvent } from './events.ts';
import { sleep } from './order-manager.ts';
import { roundQty } from './portfolio.ts';
import { ACCOUNT, type RiskEngine } from './risk.ts';

/** Larger than any real position: a quantity beyond this is a bad answer (1e308 was seen). */
const PLAUSIBLE_QTY = 1e12;
const DISPUTED = 'positions disputed with the broker';
const UNREADABLE = 'broker positions unreadable';

export interface Disagreement {
  conid: number;
  symbol: string;
  /** The sum of the strategies' books (the journal). */
  journalQty: number;
  /** What the broker answered; null when no answer was readable. */
  brokerQty: number | null;
  /** Strategies whose books hold the contract. */
  strategies: string[];
}

export interface PositionCheckOptions {
  read: () => Promise<Position[]>;
  /** The contracts the node's strategies trade, with their symbols. */
  traded: () => { conid: number; symbol: string }[];
  /** The books' sum for a contract, and the strategies holding it. */
  booksQty: (conid: number) => number;
  holders: (conid: number) => string[];
  risk: RiskEngine;
  journal: Journal;
  logger: Logger;
  emit: (e: NodeEvent) => void;
  /** Reads after a contradicting or bad answer (default 2), spaced by rereadMs (default 3 s: the cache lives ~5 s). */
  rereads?: number;
  rereadMs?: number;
  /** True once the node stops: no more rereads. */
  stopped: () => boolean;
}

export class PositionCheck {
  private disputed = new Map<string, Disagreement[]>();
  private lastSignature = '[]';

  constructor(private readonly o: PositionCheckOptions) {}

  /**
   * The broker's positions, read again while the answer is bad or contradicts the books (bounded).
   * Null when every answer was bad.
   */
  async read(when: string): Promise<Position[] | null> {
    const rereads = this.o.rereads ?? 2;
    for (let i = 0; ; i++) {
      // An answer that does not decode (the client refuses a missing or impossible quantity) is as bad
      // as a bad quantity: read again, never believe it.
      const answer = await this.o.read().catch((err: unknown) => {
        if (err instanceof BrokerError && err.code === 'BROKER_BAD_ANSWER') return err;
        throw err;
      });
      const bad = answer instanceof BrokerError ? [] : answer.filter((p) => !Number.isFinite(p.qty) || Math.abs(p.qty) > PLAUSIBLE_QTY);
      const last = answer instanceof BrokerError || bad.length ? null : answer;
      const why =
        answer instanceof BrokerError ? `an answer that does not decode (${answer.message})`
        : bad.length ? `a bad quantity (${bad.map((p) => `${p.symbol ?? p.conid}: ${String(p.qty)}`).join(', ')})`
        : this.contradictions(answer).length ? 'an answer contradicting the journal' : '';
      if (!why || i >= rereads || this.o.stopped()) return last;
      this.o.logger.warn({ when, attempt: i + 1 }, `broker positions: ${why}; reading again (the positions cache lags and may answer empty)`);
      await sleep(this.o.rereadMs ?? 3_000);
    }
  }

  /** The journal's holdings in traded contracts that the answer does not show (null: unreadable). */
  contradictions(positions: Position[] | null): Disagreement[] {
    const out: Disagreement[] = [];
    for (const { conid, symbol } of this.o.traded()) {
      const journalQty = this.o.booksQty(conid);
      if (journalQty === 0) continue;
      const p = positions?.find((q) => q.conid === conid);
      const brokerQty = positions === null ? null : roundQty(p?.qty ?? 0);
      if (brokerQty !== null && Math.sign(brokerQty) === Math.sign(journalQty) && Math.abs(brokerQty) >= Math.abs(journalQty)) continue;
      out.push({ conid, symbol, journalQty, brokerQty, strategies: this.o.holders(conid) });
    }
    return out;
  }

  /**
   * The verdict on the final answer of a reconciliation: halts the strategies whose holdings the
   * broker contradicts (the account when nothing was readable), or lifts the halt when all agree.
   */
  judge(when: string, positions: Position[] | null): Disagreement[] {
    const { risk, logger, journal, emit } = this.o;
    const list = this.contradictions(positions);
    risk.set(ACCOUNT, UNREADABLE, positions === null ? 'halted' : null);
    const byStrategy = new Map<string, Disagreement[]>();
    for (const d of list) for (const s of d.strategies) byStrategy.set(s, [...(byStrategy.get(s) ?? []), d]);
    for (const s of this.disputed.keys()) if (!byStrategy.has(s)) risk.set(s, DISPUTED, null);
    for (const s of byStrategy.keys()) risk.set(s, DISPUTED, 'halted');
    this.disputed = byStrategy;
    const signature = JSON.stringify({ unreadable: positions === null, list });
    if (signature === this.lastSignature) return list;
    const wasDisputed = this.lastSignature !== '[]';
    this.lastSignature = list.length || positions === null ? signature : '[]';
    if (positions === null) {
      logger.error({ when }, 'POSITIONS UNREADABLE: every positions answer of the broker was bad; no strategy trades until one is readable');
      journal.recordIncident('positions-unreadable', { when });
      emit({ type: 'warn', message: 'the broker\'s positions answers are unreadable: trading halted until they are' });
    }
    if (list.length) {
      const text = list.map((d) => `${d.symbol}: journal ${d.journalQty}, broker ${d.brokerQty ?? 'unreadable'}`).join('; ');
      logger.error({ when, disagreements: list }, `POSITIONS DISAGREE with the broker after re-reading and looking for missed executions: ${text}. ` +
        `Strategies ${[...byStrategy.keys()].join(', ')} are halted (no orders, no flatten) until the broker and the journal agree; check the account.`);
      journal.recordIncident('positions-disputed', { when, disagreements: list });
      emit({ type: 'warn', message: `positions disagree with the broker (${text}): ${[...byStrategy.keys()].join(', ')} halted` });
    } else if (wasDisputed && positions !== null) {
      logger.warn({ when }, 'positions at the broker agree with the journal again: trading resumes');
      journal.recordIncident('positions-agreed', { when });
    }
    return list;
  }

  /** Whether a strategy's holdings are disputed (its flatten would trade on a disputed picture). */
  isDisputed(strategyId: string): boolean {
    return this.disputed.has(strategyId) || this.o.risk.state(ACCOUNT) === 'halted' && this.o.risk.why(strategyId).includes(UNREADABLE);
  }
}
