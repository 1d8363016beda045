/**
 * One strategy inside the trading node: bars → decision → risk → executor.
 *
 * The runner owns its strategy object, its bar builder (bars by event time, aligned across its two
 * legs), its warm-up, its pair executor and its latency figures. It does NOT own the broker session,
 * the stream, the timers, the journal or the order manager: the node gives it ticks for its legs and
 * it asks the shared order manager for orders under its strategy id, so its fills land in its book.
 *
 * Bars are processed one at a time, in order. For each: the account's daily-loss check (the node
 * acts on a breach), `strategy.onBar`, then for a decision the risk engine's verdict and the orders.
 * The bar, the equity point and the decision are journalled after the orders went out (they are not
 * on the latency path).
 */
import { performance } from 'node:perf_hooks';
import type { HistoryBar, Instrument, Tick } from '../brokers/types.ts';
import type { Logger } from '../log/logger.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import type { BarContext, Decision, OhlcvBar, PairBar, StepResult, Strategy, StrategyState } from '../strategies/types.ts';
import { RecentSamples } from '../util/bounded.ts';
import { alignBars, BarBuilder, type AlignedBar } from './bar-builder.ts';
import type { NodeEvent, StrategySummary } from './events.ts';
import { isSessionMaintenance } from './market-hours.ts';
import type { Mode } from './mode-guard.ts';
import type { OrderManager } from './order-manager.ts';
import { PairExecutor, type ExecLeg, type ExecResult } from './pair-executor.ts';
import type { Book, Portfolio } from './portfolio.ts';
import { Refusal, type RiskEngine } from './risk.ts';
import type { RunnerSpec } from './runner-spec.ts';
import { staleBarReason } from './stale-bars.ts';

/** The refusal of a decision inside the brokerage session's maintenance window (one object: its text never varies). */
const MAINTENANCE = new Refusal('maintenance', null, () => 'inside the brokerage session maintenance window');

export interface RunnerDeps {
  journal: Journal;
  portfolio: Portfolio;
  risk: RiskEngine;
  orders: OrderManager;
  logger: Logger;
  mode: Mode;
  emit: (e: NodeEvent) => void;
  /** Whether anyone listens to events of a type (default: yes); a per-bar event nobody hears is not built. */
  listens?: (type: NodeEvent['type']) => boolean;
  execution: { combo: boolean; maxLegRetries: number; settleTimeoutMs: number; outsideRth: boolean };
  /** Pause decisions in the nightly reset / weekend maintenance windows (by event time). */
  pauseForMaintenance: boolean;
  /** Save the strategy state every N bars (always after a decision). */
  saveStateEveryBars: number;
  /** Journal the strategy's state at all (default true; a backtest never restarts and saves none). */
  saveStates?: boolean;
  /** Journal each bar close (its bars and equity point); default true. A backtest keeps its own curve. */
  journalBars?: boolean;
  /** Measure decision latencies (default true): a backtest's bars come from a file, and two clock reads a bar are a cost. */
  measureLatency?: boolean;
  graceMs: number;
  /** A decision on a bar older than this many bars (against the newest tick) is skipped (default 1). */
  maxBarAgeBars?: number;
  /**
   * The account's daily-loss check at a bar close; true when the node is stopping on it.
   * `ownEquity`: this runner's equity just marked at the bar's closes (`equity()`).
   */
  dailyLossBreached: (eventTime: number, ownEquity: number) => boolean;
  /** Called after each processed live bar (the node counts bars for --max-bars). */
  onBarDone: () => void;
}

const HISTORY_MARGIN = 1.2;
const LATENCY_WINDOW = 10_000;

export class StrategyRunner {
  readonly id: string;
  readonly book: Book;
  private readonly executor: PairExecutor;
  private strategy: Strategy | undefined;
  private instruments: { y: Instrument; x: Instrument } | undefined;
  private builder: BarBuilder | undefined;
  private barQueue: (AlignedBar & { wall: number })[] = [];
  private processing: Promise<void> | null = null;
  /** A file bar (closeBar) whose decision is still in flight. */
  private closing: Promise<void> | null = null;
  /** The per-bar and per-decision events someone listens to. */
  private readonly emits: { bar: boolean; decision: boolean; order: boolean; warn: boolean };
  /** Latencies are measured (RunnerDeps.measureLatency). */
  private readonly timed: boolean;
  /** False once the node stops: bars arriving afterwards are dropped. */
  private accepting = true;
  private barsSeen = 0;
  /** The legs' price boxes in the portfolio (for the conids they were found for), written at every bar. */
  private priceBoxes: { y: number; x: number; yBox: { price: number }; xBox: { price: number } } | null = null;
  private decisionsMade = 0;
  /** The context of each live bar, refilled at every bar (the strategy reads it during onBar only). */
  private readonly barContext: BarContext = { equity: 0 };
  private lastBarTime: number | null = null;
  private lastTickWall = 0;
  /** Event time of the newest tick of either leg (the market's clock for stale decisions). */
  private newestTickTime = -Infinity;
  private staleSkipped = 0;
  /** Bars of statistics the strategy has (history + live) toward `spec.warmupBars` (`warmup` events). */
  private warmHave = 0;
  private latencyStart: number | null = null;
  private readonly latencies = new RecentSamples(LATENCY_WINDOW);
  private readonly orderLatencies = new RecentSamples(LATENCY_WINDOW);
  startEquity = 0;

  constructor(
    readonly spec: RunnerSpec,
    private readonly d: RunnerDeps,
    startingCash: number,
  ) {
    this.id = spec.id;
    this.book = d.portfolio.addBook(spec.id, startingCash);
    const listens = d.listens ?? ((): boolean => true);
    this.emits = { bar: listens('bar'), decision: listens('decision'), order: listens('order'), warn: listens('warn') };
    this.timed = d.measureLatency !== false;
    this.executor = new PairExecutor({
      strategyId: spec.id, orders: d.orders, journal: d.journal, logger: d.logger,
      maxLegRetries: d.execution.maxLegRetries, settleTimeoutMs: d.execution.settleTimeoutMs,
      useCombo: d.execution.combo, outsideRth: d.execution.outsideRth, cryptoCashBuffer: 0,
    });
  }

  /** Contract ids of the two legs (after `bind`). */
  get conids(): [number, number] {
    const i = this.mustInstruments();
    return [i.y.conid, i.x.conid];
  }

  get legs(): { y: Instrument; x: Instrument } {
    return this.mustInstruments();
  }

  private mustInstruments(): { y: Instrument; x: Instrument } {
    if (!this.instruments) throw new Error(`runner ${this.id} has no instruments yet`);
    return this.instruments;
  }

  bind(y: Instrument, x: Instrument): void {
    this.instruments = { y, x };
  }

  /** Equity for sizing: paper, the strategy's own book; live, its share of the account's net liquidation. */
  equity(): number {
    if (this.d.mode === 'live' && this.d.portfolio.accountEquity !== null) return this.d.portfolio.accountEquity * this.spec.capitalShare;
    return this.d.portfolio.bookEquity(this.book);
  }

  // ---------------------------------------------------------------- warm-up

  /**
   * Builds the strategy (from the journal's saved state when there is one), feeds it history with
   * `warmup: true` (statistics only) and syncs it with the book's positions.
   */
  async warmUp(history: (i: Instrument, barMinutes: number, bars: number) => Promise<HistoryBar[]>): Promise<void> {
    const { spec, d } = this;
    const { y, x } = this.mustInstruments();
    const saved = d.journal.loadStrategyState(this.id);
    let after = -Infinity;
    let strategy: Strategy;
    if (saved) {
      try {
        strategy = spec.createStrategy(saved.state as StrategyState);
        after = saved.barTime ?? -Infinity;
        d.logger.info({ strategy: this.id, barTime: iso(saved.barTime) }, 'strategy state restored from the journal');
      } catch (err) {
        d.logger.warn({ strategy: this.id, err: msg(err) }, 'saved strategy state not usable: warming up from history');
        strategy = spec.createStrategy();
      }
    } else {
      strategy = spec.createStrategy();
    }
    this.strategy = strategy;
    const count = Math.ceil(spec.warmupBars * HISTORY_MARGIN) + 2;
    // One owner of retries: the broker's client retries what is safe to retry; a failure here fails the start.
    const [hy, hx] = await Promise.all([history(y, spec.barMinutes, count), history(x, spec.barMinutes, count)]);
    const aligned = alignBars([hy, hx]).filter((b) => b.time > after);
    // The newest history bar may still be forming: the live builder owns it.
    const newest = Math.max(...hy.map((b) => b.time), ...hx.map((b) => b.time));
    const complete = aligned.filter((b) => b.time < newest);
    const use = saved ? complete : complete.slice(-spec.warmupBars);
    if (!saved && use.length < spec.warmupBars) {
      d.logger.warn({ strategy: this.id, have: use.length, need: spec.warmupBars }, 'history shorter than the warm-up: the strategy decides once enough live bars arrive');
    }
    d.journal.recordBars(use.flatMap((b) => this.barRows(b.time, b.legs)), true);
    for (const b of use) {
      // Statistics only: no decision, position untouched (the book is the truth after a restart).
      strategy.onBar(pairBar(b.time, b.legs), { equity: this.equity(), warmup: true });
      this.lastBarTime = b.time;
    }
    this.warmHave = saved ? spec.warmupBars : Math.min(use.length, spec.warmupBars);
    d.emit({ type: 'warmup', strategyId: this.id, have: this.warmHave, need: spec.warmupBars });
    this.syncStrategy('warm-up');
    this.saveState();
    this.startEquity = this.equity();
    this.builder = new BarBuilder(spec.barMinutes * 60_000, [y.conid, x.conid], (b) => this.enqueueBar(b), d.graceMs);
    d.logger.info({ strategy: this.id, bars: use.length }, 'warm-up done');
  }

  /** Event time of the newest bar this runner processed or warmed up on (bar start). */
  get latestBarTime(): number | null {
    return this.lastBarTime;
  }

  // ---------------------------------------------------------------- bars and decisions

  onTick(t: Tick): void {
    this.lastTickWall = performance.now();
    if (t.time > this.newestTickTime) this.newestTickTime = t.time;
    this.builder?.onTick(t.conid, t.time, t.price, t.size ?? 0);
  }

  /**
   * A bar read from a file (backtests): the same decision path as a bar the builder closed from
   * ticks. The bar counts as closed at its end, the market's newest time then (so never stale).
   * Dropped once the node stops accepting bars, like a live bar.
   *
   * Synchronous when the bar places nothing (no decision, a decision the pre-trade checks refused,
   * or a daily-loss check that passed): it returns undefined and the caller goes on without a
   * promise, a microtask turn or an allocation per bar. A bar that places orders (or breaches the
   * daily loss) returns the promise of its orders; a
   * bar that comes while one is still in flight waits for it (bars stay one at a time, in order).
   * `pair`: the same bar as a pair bar (its time, y = legs[0], x = legs[1]) when the caller holds
   * one: the strategy gets it as it is instead of a new one per bar.
   */
  closeBar(time: number, legs: readonly OhlcvBar[], pair?: PairBar): Promise<void> | undefined {
    if (this.closing) return this.closing.then(() => this.closeBar(time, legs, pair));
    if (!this.accepting) return undefined;
    const end = time + this.spec.barMinutes * 60_000;
    if (end > this.newestTickTime) this.newestTickTime = end;
    const pending = this.processBar(time, legs, this.timed ? performance.now() : 0, pair);
    if (!pending) return undefined;
    const closing: Promise<void> = pending.finally(() => {
      if (this.closing === closing) this.closing = null;
    });
    this.closing = closing;
    return closing;
  }

  private enqueueBar(b: AlignedBar): void {
    if (!this.accepting) return;
    this.barQueue.push({ ...b, wall: this.lastTickWall });
    if (!this.processing) this.processing = this.drain().finally(() => (this.processing = null));
  }

  private async drain(): Promise<void> {
    while (this.barQueue.length > 0 && this.accepting) {
      const b = this.barQueue.shift()!;
      try {
        await this.processBar(b.time, b.legs, b.wall);
      } catch (err) {
        this.d.logger.error({ strategy: this.id, err: msg(err), bar: iso(b.time) }, 'bar processing failed');
        this.d.journal.recordIncident('bar-error', { bar: b.time, error: msg(err) }, this.id);
      }
    }
  }

  /**
   * The decision at a bar close. Returns undefined when the bar is done (no decision: nothing was
   * awaited), else the promise of its risk check, orders and bookkeeping.
   */
  private processBar(time: number, legs: readonly OhlcvBar[], wall: number, pair?: PairBar): Promise<void> | undefined {
    const { d } = this;
    const strategy = this.strategy!;
    const { y, x } = this.mustInstruments();
    this.barsSeen++;
    this.lastBarTime = time;
    const by = legs[0]!;
    const bx = legs[1]!;
    let boxes = this.priceBoxes;
    if (boxes === null || boxes.y !== y.conid || boxes.x !== x.conid) {
      boxes = this.priceBoxes = { y: y.conid, x: x.conid, yBox: d.portfolio.priceBox(y.conid), xBox: d.portfolio.priceBox(x.conid) };
    }
    boxes.yBox.price = by.close;
    boxes.xBox.price = bx.close;
    const equity = this.equity();
    if (d.dailyLossBreached(time + this.spec.barMinutes * 60_000, equity)) {
      this.recordBar(time, legs, equity);
      // The node halts, flattens and stops: the caller waits a turn as for a decision (the rare path).
      return Promise.resolve();
    }

    this.barContext.equity = equity;
    const step = strategy.onBar(pair ?? pairBar(time, legs), this.barContext);
    const dec = step.decision;
    if (dec.action === 'none') {
      if (this.timed) this.latencies.push(performance.now() - wall);
      this.finishBar(time, legs, step, equity, false);
      return undefined;
    }
    return this.decide(time, legs, step, dec, equity, wall);
  }

  /**
   * A decision: the pre-trade checks, then its orders (journalled after they went out, off the
   * latency path), then the bar's bookkeeping. A refused decision is done synchronously and returns
   * undefined, like a bar that decides nothing: a backtest outside market hours refuses one bar in
   * six, and a promise chain and two suspended async frames per refusal cost it ~4 µs each.
   */
  private decide(time: number, legs: readonly OhlcvBar[], step: StepResult, dec: Exclude<Decision, { action: 'none' }>, equity: number, wall: number): Promise<void> | undefined {
    const { d } = this;
    const by = legs[0]!;
    const bx = legs[1]!;
    this.decisionsMade++;
    if (this.emits.decision) d.emit({ type: 'decision', strategyId: this.id, time, decision: dec, z: step.diagnostics.z, beta: step.diagnostics.beta, closes: [by.close, bx.close] });
    const orders = this.preTrade(time, dec, wall, step, equity);
    if (orders === null) {
      this.finishBar(time, legs, step, equity, false);
      return undefined;
    }
    return this.trade(time, legs, step, dec, equity, wall, orders);
  }

  /** The orders of a decision that passed its checks; the bar's bookkeeping once they are done. */
  private async trade(time: number, legs: readonly OhlcvBar[], step: StepResult, dec: Exclude<Decision, { action: 'none' }>, equity: number, wall: number, orders: ExecLeg[]): Promise<void> {
    await this.send(time, dec, wall, step, equity, orders);
    this.finishBar(time, legs, step, equity, true);
  }

  /** The decision's journal row (methods, not closures made per decision: they cost an allocation each). */
  private recordDecision(time: number, dec: Exclude<Decision, { action: 'none' }>, step: StepResult, equity: number): void {
    this.d.journal.recordDecision(this.id, time, dec.action === 'enter' ? `enter-${dec.side}` : `close-${dec.side}-${dec.reason}`, { decision: dec, z: step.diagnostics.z, beta: step.diagnostics.beta, equity });
  }

  /** A decision the live rules do not execute: journalled with the reason, the strategy synced back to its book. */
  private refuse(time: number, dec: Exclude<Decision, { action: 'none' }>, wall: number, step: StepResult, equity: number, refusal: Refusal): null {
    const { d } = this;
    if (this.timed) this.latencies.push(performance.now() - wall);
    this.recordDecision(time, dec, step, equity);
    // The text is built only for a reader: a backtest refuses every decision outside market hours.
    if (d.logger.isLevelEnabled('warn')) d.logger.warn({ strategy: this.id, bar: iso(time), decision: dec.action, reason: refusal.reason, rule: refusal.rule }, 'decision not executed');
    if (this.emits.warn) d.emit({ type: 'warn', message: `${this.id}: decision ${dec.action} at ${iso(time)} not executed: ${refusal.reason}` });
    // The row's detail is `{ reason, rule }` (the refusal's JSON); a backtest counts refusals by rule.
    d.journal.recordDecision(this.id, time, 'refused', refusal);
    // Expected after a refusal (the refusal row is the record): synced quietly, no incident.
    this.syncStrategy('refused decision', true);
    return null;
  }

  /** Journal writes of the bar come after the decision and its orders: they are not on the latency path. */
  private recordBar(time: number, legs: readonly OhlcvBar[], equity: number): void {
    if (this.d.journalBars === false) return;
    this.d.journal.recordBarClose(this.id, this.barRows(time, legs), time, equity, this.book.cash);
    this.d.journal.checkpoint();
  }

  /** After the decision (if any): the bar's journal rows, the state, warm-up progress, the log line and the bar event. */
  private finishBar(time: number, legs: readonly OhlcvBar[], step: StepResult, equity: number, traded: boolean): void {
    const { d } = this;
    this.recordBar(time, legs, equity);
    const decided = step.decision.action !== 'none';
    if (d.saveStates !== false && (traded || decided || this.barsSeen % d.saveStateEveryBars === 0)) this.saveState();

    if (this.warmHave < this.spec.warmupBars) {
      this.warmHave++;
      d.emit({ type: 'warmup', strategyId: this.id, have: this.warmHave, need: this.spec.warmupBars });
    }
    const logs = d.logger.isLevelEnabled('info');
    if (!logs && !this.emits.bar) {
      d.onBarDone();
      return;
    }
    const by = legs[0]!;
    const bx = legs[1]!;
    const z = step.diagnostics.z;
    const pos = this.strategy!.position().side;
    if (logs) {
      const { y, x } = this.mustInstruments();
      const { beta, gate } = step.diagnostics;
      // kind 'bar': a terminal renders this record as one line (src/log/terminal.ts); piped, it is JSON with every field.
      d.logger.info({ kind: 'bar', strategy: this.id, bar: iso(time), ySymbol: y.symbol, xSymbol: x.symbol, y: by.close, x: bx.close, z: z === null ? null : Number(z.toFixed(3)), beta: beta === null ? null : Number(beta.toFixed(4)), p: gate.pValue, pos, equity: round2(equity) }, 'bar');
    }
    if (this.emits.bar) {
      // The bar's decision latency (closing tick to decision, or to the first order handed over), for metrics.
      const latencyMs = this.latencies.latest;
      d.emit({ type: 'bar', strategyId: this.id, time, closes: [by.close, bx.close], z, position: pos, equity, ...(Number.isFinite(latencyMs) ? { decisionLatencyMs: latencyMs } : {}) });
    }
    d.onBarDone();
  }

  /**
   * The pre-trade checks of a decision (maintenance window, stale bar, trading state, market hours,
   * risk limits): its orders as legs, or null when refused (then journalled and synced by refuse).
   */
  private preTrade(time: number, dec: Exclude<Decision, { action: 'none' }>, wall: number, step: StepResult, equity: number): ExecLeg[] | null {
    const { d } = this;
    const { y, x } = this.mustInstruments();
    const barEnd = time + this.spec.barMinutes * 60_000;
    if (d.pauseForMaintenance && isSessionMaintenance(barEnd)) return this.refuse(time, dec, wall, step, equity, MAINTENANCE);
    const stale = staleBarReason(time, this.spec.barMinutes, this.newestTickTime, d.maxBarAgeBars ?? 1);
    if (stale) {
      this.staleSkipped++;
      return this.refuse(time, dec, wall, step, equity, new Refusal('stale-bar', null, () => stale));
    }
    const legs: ExecLeg[] = dec.orders.map((lo) => {
      const inst = lo.leg === 'y' ? y : x;
      return { name: lo.leg, instrument: inst, side: lo.side, qty: lo.qty, price: d.portfolio.price(inst.conid) ?? 0 };
    });
    const change = new Map<number, number>();
    for (const l of legs) change.set(l.instrument.conid, (change.get(l.instrument.conid) ?? 0) + (l.side === 'BUY' ? l.qty : -l.qty));
    // The account's gross in other contracts, summed only if a limit is checked.
    const others = (): number => {
      let traded = 0;
      for (const c of change.keys()) traded += Math.abs(d.portfolio.accountQty(c)) * (d.portfolio.price(c) ?? 0);
      return Math.max(0, d.portfolio.grossNotional() - traded);
    };
    const verdict = d.risk.check(this.id, legs.map((l) => {
      const cur = d.portfolio.accountQty(l.instrument.conid);
      return { symbol: l.instrument.symbol, secType: l.instrument.secType, currentQty: cur, targetQty: cur + change.get(l.instrument.conid)!, price: l.price };
    }), barEnd, others);
    if (!verdict.ok) return this.refuse(time, dec, wall, step, equity, verdict);
    return legs;
  }

  /** The orders of a decision that passed its checks, to the broker; the decision's journal row and the strategy's sync after. */
  private async send(time: number, dec: Exclude<Decision, { action: 'none' }>, wall: number, step: StepResult, equity: number, legs: ExecLeg[]): Promise<void> {
    const { d } = this;
    const intentId = `${dec.action}-${time}`;
    if (this.timed) this.latencyStart = wall; // measured up to the moment the first order is handed to the broker
    let res: ExecResult;
    try {
      res = await this.executor.execute(intentId, legs);
    } finally {
      this.latencyStart = null;
      this.recordDecision(time, dec, step, equity);
    }
    if (this.emits.order) for (const o of d.journal.ordersOfIntent(this.id, intentId)) {
      d.emit({ type: 'order', strategyId: this.id, cOID: o.cOID, symbol: o.symbol, side: o.side, qty: o.quantity, cashQty: o.cashQty, state: o.state });
    }
    if (!res.ok) {
      d.emit({ type: 'warn', message: `${this.id}: ${res.note}` });
      this.syncStrategy('execution incomplete');
    } else {
      // Fills may differ slightly from the decision (crypto cash quantities): hold what was filled.
      this.syncStrategy('after fills', true);
    }
  }

  /** The order manager is about to hand one of this strategy's orders to the broker. */
  onOrderSending(): void {
    if (this.latencyStart === null) return;
    const ms = performance.now() - this.latencyStart;
    this.latencies.push(ms);
    this.orderLatencies.push(ms);
    this.latencyStart = null;
  }

  // ---------------------------------------------------------------- positions

  /** Brings the strategy's belief in line with the positions its book holds in its two legs. */
  syncStrategy(why: string, quiet = false): void {
    if (!this.strategy || !this.instruments) return;
    const held = { qtyY: this.book.qty(this.instruments.y.conid), qtyX: this.book.qty(this.instruments.x.conid) };
    const r = this.strategy.syncPosition(held);
    if (r.changed) {
      const { logger } = this.d;
      if (logger.isLevelEnabled(quiet ? 'debug' : 'warn')) (quiet ? logger.debug : logger.warn).call(logger, { strategy: this.id, why, note: r.note }, 'strategy position synced to its book');
      if (!quiet) this.d.journal.recordIncident('strategy-sync', { why, note: r.note }, this.id);
    }
  }

  saveState(): void {
    if (this.strategy && this.d.saveStates !== false) this.d.journal.saveStrategyState(this.id, this.lastBarTime, this.strategy.saveState());
  }

  /** The legs to trade to close this strategy's positions. */
  flattenLegs(): ExecLeg[] {
    if (!this.instruments) return [];
    const legs: ExecLeg[] = [];
    for (const [name, inst] of [['y', this.instruments.y], ['x', this.instruments.x]] as const) {
      const q = this.book.qty(inst.conid);
      if (q === 0) continue;
      legs.push({ name, instrument: inst, side: q > 0 ? 'SELL' : 'BUY', qty: Math.abs(q), price: this.d.portfolio.price(inst.conid) ?? 0 });
    }
    return legs;
  }

  /** Sends legs outside a decision (a naked leg's completion); the strategy is synced to the book after. */
  async executeLegs(intentId: string, legs: ExecLeg[]): Promise<ExecResult> {
    const res = await this.executor.execute(intentId, legs);
    this.syncStrategy(`executed ${intentId}`);
    this.saveState();
    return res;
  }

  /** Closes this strategy's positions (kill switch, daily loss, flatten on exit). True when flat. */
  async flatten(why: string): Promise<boolean> {
    const legs = this.flattenLegs();
    if (legs.length === 0) return true;
    this.d.logger.warn({ strategy: this.id, why, legs: legs.map((l) => `${l.side} ${l.qty} ${l.instrument.symbol}`) }, 'flattening');
    const res = await this.executor.execute(`flatten-${why}-${Date.now()}`, legs);
    this.syncStrategy(`flatten (${why})`);
    this.saveState();
    if (!res.ok || this.flattenLegs().length > 0) {
      this.d.logger.error({ strategy: this.id, note: res.note, left: this.flattenLegs().map((l) => `${l.instrument.symbol} ${this.book.qty(l.instrument.conid)}`) }, 'flatten incomplete: check the account');
      return false;
    }
    return true;
  }

  // ---------------------------------------------------------------- stopping

  /** No new bars from now on; the bar in progress (and its orders) may finish. */
  stopAccepting(): void {
    this.accepting = false;
    this.barQueue = [];
  }

  /** The bar being processed, if any. */
  get busy(): Promise<void> | null {
    return this.processing;
  }

  /** Resolves when the bars received so far have been processed (benchmarks, tests). */
  async whenIdle(): Promise<void> {
    while (this.processing) await this.processing;
  }

  summary(run: { orders: number; fills: number }): StrategySummary {
    return {
      strategyId: this.id,
      bars: this.barsSeen,
      decisions: this.decisionsMade,
      orders: run.orders,
      fills: run.fills,
      equity: round2(this.equity()),
      startEquity: round2(this.startEquity),
      cash: this.book.cash,
      positions: this.book.all().map((h) => ({ symbol: h.symbol, qty: h.qty })),
      lateTicks: this.builder?.lateTicks ?? 0,
      droppedBars: this.builder?.droppedBars ?? 0,
      latencyMs: this.latencies.percentiles(),
      orderLatencyMs: this.orderLatencies.percentiles(),
    };
  }

  /** Decisions skipped because their bar was stale (after a stall). */
  get staleDecisionsSkipped(): number {
    return this.staleSkipped;
  }

  /** Raw latency samples of the recent window (benchmark). */
  latencySamples(): { all: number[]; orders: number[] } {
    return { all: this.latencies.values(), orders: this.orderLatencies.values() };
  }

  private barRows(time: number, legs: readonly OhlcvBar[]) {
    const { y, x } = this.mustInstruments();
    return [
      { ...legs[0]!, time, symbol: y.symbol },
      { ...legs[1]!, time, symbol: x.symbol },
    ];
  }
}

function pairBar(time: number, legs: readonly OhlcvBar[]): PairBar {
  const [y, x] = legs as [OhlcvBar, OhlcvBar];
  return { time, y, x };
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
export function iso(t: number | null | undefined): string | null {
  return t === null || t === undefined ? null : new Date(t).toISOString();
}
export function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
