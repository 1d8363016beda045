/**
 * The live engine: warm-up from history, bars built from the data's own timestamps, a decision at
 * each bar close, risk checks, orders through the order manager, fills and statuses from the stream
 * (polling as the fallback), positions and cash tracked at every fill, portfolio sync on a timer and
 * after fills, session keep-alive and re-authentication, reconciliation at start and after every
 * reconnect, kill switch, daily loss limit, bounded shutdown. See docs/engine.md.
 *
 * It knows the broker only through the `Broker` interface and the strategy only through `Strategy`.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import type { Broker, ConnectionEvent, Instrument, InstrumentSpec, Tick } from '../brokers/types.ts';
import type { Journal } from '../store/journal.ts';
import type { Decision, PairBar, Strategy, StrategyState } from '../strategies/types.ts';
import { UserError } from '../util/errors.ts';
import { alignBars, BarBuilder, type AlignedBar, type Bar } from './bar-builder.ts';
import { isSessionMaintenance } from './market-hours.ts';
import type { Mode } from './mode-guard.ts';
import { OrderManager, sleep, type CrashPoint } from './order-manager.ts';
import { PairExecutor, type ExecLeg } from './pair-executor.ts';
import { Portfolio, roundQty } from './portfolio.ts';
import { checkOrders, checkShortability, DailyLossGuard, type RiskLimits } from './risk.ts';

export interface EngineLeg extends InstrumentSpec {
  qtyIncrement: number;
}

export interface EngineOptions {
  broker: Broker;
  journal: Journal;
  logger?: Logger;
  mode: Mode;
  accountId: string;
  /** Paper mode: the engine's own book starts here. */
  startingCash: number;
  /** The strategy's legs, bar size (minutes), and what warm-up needs. */
  legs: { y: EngineLeg; x: EngineLeg };
  barMinutes: number;
  /**
   * Aligned history bars fed before going live. With max(lookback, gate.lookback) - 1 the first live
   * bar is the first at which the strategy can decide, and warm-up never opens a virtual position.
   */
  warmupBars: number;
  shortMode: string;
  /** Builds the strategy, from a saved state when the journal has one. */
  createStrategy: (state?: StrategyState) => Strategy;
  risk: RiskLimits;
  marketData?: { source: 'stream' | 'poll'; pollMs?: number; graceMs?: number };
  execution?: { combo?: boolean; maxLegRetries?: number; settleTimeoutMs?: number };
  /** Order fallback polling and unknown-placement resolution. */
  orderPollMs?: number;
  resolveTimeoutMs?: number;
  portfolioSyncMs?: number;
  keepAliveMs?: number;
  killSwitchFile?: string | undefined;
  maxBars?: number | undefined;
  exitAfterMs?: number | undefined;
  flattenOnExit?: boolean;
  shutdownTimeoutMs?: number;
  /** Pause decisions in the nightly reset / weekend maintenance windows (by event time). */
  pauseForMaintenance?: boolean;
  /** Save the strategy state every N bars (always after a trade). */
  saveStateEveryBars?: number;
  coidPrefix?: string;
  crashHook?: (point: CrashPoint, cOID: string) => Promise<void>;
  /** Progress for a human (the demo prints these). */
  onEvent?: (e: EngineEvent) => void;
}

export type EngineEvent =
  | { type: 'bar'; time: number; closes: [number, number]; z: number | null; position: string; equity: number }
  | { type: 'decision'; time: number; decision: Decision; z: number | null }
  | { type: 'order'; cOID: string; symbol: string; side: string; qty: number | null; cashQty: number | null; state: string }
  | { type: 'fill'; cOID: string; symbol: string; side: string; qty: number; price: number; commission: number }
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string };

export type StopReason = 'max-bars' | 'exit-after' | 'signal' | 'kill-switch' | 'daily-loss' | 'error';

export interface EngineSummary {
  stopReason: StopReason;
  bars: number;
  decisions: number;
  orders: number;
  fills: number;
  equity: number;
  startEquity: number;
  positions: { symbol: string; qty: number }[];
  incidents: number;
  /** Per-bar decision latency (ms): closing tick received -> decision made, or -> first order handed to the broker. */
  latencyMs: { p50: number; p99: number; n: number };
  /** The same, bars with orders only. */
  orderLatencyMs: { p50: number; p99: number; n: number };
}

const HISTORY_MARGIN = 1.2;

export class Engine {
  private readonly broker: Broker;
  private readonly journal: Journal;
  private readonly logger: Logger;
  private readonly portfolio: Portfolio;
  readonly orders: OrderManager;
  private readonly executor: PairExecutor;
  private strategy!: Strategy;
  private instruments!: { y: Instrument; x: Instrument };
  private builder!: BarBuilder;
  private lossGuard: DailyLossGuard;
  private barQueue: AlignedBar[] = [];
  private processing: Promise<void> | null = null;
  private barsSeen = 0;
  private decisionsMade = 0;
  private stopping = false;
  /** No new decisions (kill switch, shutdown): bars arriving now are dropped. */
  private halted = false;
  private stopReason: StopReason | null = null;
  private paused = false;
  private reconnecting: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private lastTickWall = 0;
  /** Per bar: closing tick received -> decision made, or -> first order handed to the broker. */
  private readonly latencies: number[] = [];
  private readonly orderLatencies: number[] = [];
  private pendingDiffs = new Map<number, number>();
  private startEquity = 0;
  private lastBarTime: number | null = null;
  private latencyStart: number | null = null;

  constructor(private readonly o: EngineOptions) {
    this.broker = o.broker;
    this.journal = o.journal;
    this.logger = o.logger ?? silentLogger;
    this.portfolio = new Portfolio(o.startingCash);
    this.lossGuard = new DailyLossGuard(o.risk.maxDailyLoss);
    this.orders = new OrderManager({
      broker: o.broker, journal: o.journal, portfolio: this.portfolio, logger: this.logger,
      coidPrefix: o.coidPrefix ?? 'tdm', pollMs: o.orderPollMs ?? 2_000, resolveTimeoutMs: o.resolveTimeoutMs ?? 20_000,
      ...(o.crashHook ? { crashHook: o.crashHook } : {}),
      beforeSend: () => {
        if (this.latencyStart !== null) {
          const ms = performance.now() - this.latencyStart;
          this.latencies.push(ms);
          this.orderLatencies.push(ms);
          this.latencyStart = null;
        }
      },
      onFill: (f, order) => {
        this.emit({ type: 'fill', cOID: order.cOID, symbol: order.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission });
        this.scheduleSync();
      },
    });
    this.executor = new PairExecutor({
      orders: this.orders, journal: o.journal, logger: this.logger,
      maxLegRetries: o.execution?.maxLegRetries ?? 2, settleTimeoutMs: o.execution?.settleTimeoutMs ?? 30_000,
      useCombo: o.execution?.combo ?? false, outsideRth: o.risk.allowOutsideRth, cryptoCashBuffer: 0,
    });
  }

  private emit(e: EngineEvent): void {
    this.o.onEvent?.(e);
  }

  /** Runs until a stop condition; resolves with a summary. */
  async run(): Promise<EngineSummary> {
    await this.start();
    if (this.o.exitAfterMs) this.timers.push(setTimeout(() => void this.stop('exit-after'), this.o.exitAfterMs));
    await this.done;
    return this.summary();
  }

  // ---------------------------------------------------------------- start-up

  private async start(): Promise<void> {
    const { broker, o } = this;
    const journalAccount = this.journal.getMeta('account');
    if (journalAccount && journalAccount !== o.accountId) {
      throw new UserError(`the journal ${this.journal.file} belongs to account ${journalAccount}, not ${o.accountId}: use another dataDir (or journal.path) per account.`);
    }
    checkShortability([o.legs.y, o.legs.x], o.shortMode, 'strategy');
    await broker.connect();
    const accounts = await broker.accounts();
    const acct = accounts.find((a) => a.id === o.accountId);
    if (!acct) {
      throw new UserError(`account ${o.accountId} is not among the gateway session's accounts (${accounts.map((a) => a.id).join(', ') || 'none'}). Log in with the right user, or fix the account id in .env.`);
    }
    if (acct.isPaper !== (o.mode === 'paper')) {
      throw new UserError(`${o.mode} mode refuses account ${o.accountId}: the gateway reports it as a ${acct.isPaper ? 'paper' : 'live'} account.`);
    }
    broker.useAccount(o.accountId);
    const [y, x] = await Promise.all([broker.resolveInstrument(o.legs.y), broker.resolveInstrument(o.legs.x)]);
    this.instruments = { y, x };
    this.orders.registerInstrument(y);
    this.orders.registerInstrument(x);
    this.journal.setMeta('account', o.accountId);
    this.journal.setMeta('mode', o.mode);

    // Paper book: starting cash plus every fill the journal holds (a restart resumes the book).
    if (o.mode === 'paper') {
      for (const f of this.journal.fills()) this.portfolio.cash -= (f.side === 'BUY' ? f.qty : -f.qty) * f.price + f.commission;
    }
    for (const p of this.journal.positions()) this.portfolio.setHolding(p.conid, p.symbol, p.qty, p.avgCost);

    await this.reconcile('start');
    await this.warmUp();
    this.startEquity = this.equity();
    this.builder = new BarBuilder(o.barMinutes * 60_000, [y.conid, x.conid], (b) => this.enqueueBar(b), o.marketData?.graceMs ?? 0);
    await this.subscribe();
    this.startTimers();
    this.logger.info({ mode: o.mode, account: o.accountId, y: y.symbol, x: x.symbol, equity: round2(this.startEquity) }, 'engine running');
    this.emit({ type: 'info', message: `engine running: ${o.mode} account ${o.accountId}, ${y.symbol}/${x.symbol}, equity ${round2(this.startEquity)}` });
  }

  private async warmUp(): Promise<void> {
    const { o } = this;
    const saved = this.journal.loadStrategyState();
    let strategy: Strategy;
    let after = -Infinity;
    if (saved) {
      try {
        strategy = o.createStrategy(saved.state as StrategyState);
        after = saved.barTime ?? -Infinity;
        this.logger.info({ barTime: iso(saved.barTime) }, 'strategy state restored from the journal');
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'saved strategy state not usable: warming up from history');
        strategy = o.createStrategy();
      }
    } else {
      strategy = o.createStrategy();
    }
    this.strategy = strategy;
    const count = Math.ceil(o.warmupBars * HISTORY_MARGIN) + 2;
    const [hy, hx] = await Promise.all([
      this.withRetries('history', () => this.broker.history(this.instruments.y, o.barMinutes, count)),
      this.withRetries('history', () => this.broker.history(this.instruments.x, o.barMinutes, count)),
    ]);
    const aligned = alignBars([hy, hx]).filter((b) => b.time > after);
    // The newest history bar may still be forming: the live builder owns it.
    const newest = Math.max(...hy.map((b) => b.time), ...hx.map((b) => b.time));
    const complete = aligned.filter((b) => b.time < newest);
    const use = saved ? complete : complete.slice(-o.warmupBars);
    if (!saved && use.length < o.warmupBars) {
      this.logger.warn({ have: use.length, need: o.warmupBars }, 'history shorter than the warm-up: the strategy decides once enough live bars arrive');
    }
    this.journal.recordBars(use.flatMap((b) => this.barRows(b.time, b.legs)), true);
    for (const b of use) {
      // Statistics only: no decision, position untouched (after a restart, what happened while the
      // engine was down is the broker's business; the holdings are adopted right after).
      this.strategy.onBar(this.pairBar(b.time, b.legs), { equity: this.equity(), warmup: true });
      this.lastBarTime = b.time;
    }
    this.syncStrategy('warm-up');
    this.journal.saveStrategyState(this.lastBarTime, this.strategy.saveState());
    this.logger.info({ bars: use.length }, 'warm-up done');
  }

  /** Start-up reads are safe to repeat: a slow or flaky gateway gets a few tries before the run fails. */
  private async withRetries<T>(what: string, fn: () => Promise<T>, attempts = 3): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i >= attempts || (err instanceof UserError && !/did not answer|429|5\d\d|Service Unavailable|Internal Server Error/i.test(err.message))) throw err;
        this.logger.warn({ what, attempt: i, err: msg(err) }, 'start-up read failed; retrying');
        await sleep(1_000 * i);
      }
    }
  }

  private barRows(time: number, legs: Bar[]) {
    return [
      { ...legs[0]!, time, symbol: this.instruments.y.symbol },
      { ...legs[1]!, time, symbol: this.instruments.x.symbol },
    ];
  }

  private pairBar(time: number, legs: Bar[]): PairBar {
    const [y, x] = legs as [Bar, Bar];
    return { time, y, x };
  }

  private async subscribe(): Promise<void> {
    const { y, x } = this.instruments;
    const onTick = (t: Tick): void => this.onTick(t);
    await this.broker.subscribe([y, x], {
      ...(this.o.marketData?.source === 'poll' ? {} : { onTick }),
      onOrder: (ord) => this.orders.onBrokerOrder(ord),
      onFill: (f) => this.orders.onBrokerFill(f),
      onConnection: (e) => this.onConnection(e),
    });
  }

  private startTimers(): void {
    const o = this.o;
    if (o.marketData?.source === 'poll') {
      const ms = o.marketData.pollMs ?? 1_000;
      let busy = false;
      this.timers.push(setInterval(() => {
        if (busy || this.paused) return;
        busy = true;
        this.broker.snapshot([this.instruments.y, this.instruments.x])
          .then((ticks) => ticks.forEach((t) => this.onTick(t)))
          .catch((err: unknown) => this.logger.warn({ err: msg(err) }, 'snapshot poll failed'))
          .finally(() => (busy = false));
      }, ms));
    }
    this.timers.push(setInterval(() => void this.keepAlive(), o.keepAliveMs ?? 60_000));
    this.timers.push(setInterval(() => void this.syncPortfolio('timer'), o.portfolioSyncMs ?? 60_000));
    if (o.killSwitchFile) {
      const file = o.killSwitchFile;
      this.timers.push(setInterval(() => {
        if (existsSync(file)) void this.kill(`kill-switch file ${file}`);
      }, 500));
    }
  }

  // ---------------------------------------------------------------- market data and bars

  onTick(t: Tick): void {
    this.lastTickWall = performance.now();
    this.portfolio.setPrice(t.conid, t.price);
    this.builder.onTick(t.conid, t.time, t.price, t.size ?? 0);
  }

  private enqueueBar(b: AlignedBar): void {
    if (this.stopping || this.halted) return;
    (b as AlignedBar & { wall?: number }).wall = this.lastTickWall;
    this.barQueue.push(b);
    if (!this.processing) this.processing = this.drain().finally(() => (this.processing = null));
  }

  private async drain(): Promise<void> {
    while (this.barQueue.length > 0 && !this.stopping && !this.halted) {
      const b = this.barQueue.shift()!;
      try {
        await this.onBarClose(b);
      } catch (err) {
        this.logger.error({ err: msg(err), bar: iso(b.time) }, 'bar processing failed');
        this.journal.recordIncident('bar-error', { bar: b.time, error: msg(err) });
      }
    }
  }

  /** The decision at a bar close. */
  private async onBarClose(b: AlignedBar): Promise<void> {
    const { y, x } = this.instruments;
    this.barsSeen++;
    this.lastBarTime = b.time;
    const [by, bx] = b.legs as [Bar, Bar];
    this.portfolio.setPrice(y.conid, by.close);
    this.portfolio.setPrice(x.conid, bx.close);
    const equity = this.equity();
    // Journal writes of the bar come after the decision and its orders: they are not on the latency path.
    const recordBar = (): void => {
      this.journal.db.transaction(() => {
        this.journal.recordBars(this.barRows(b.time, b.legs));
        this.journal.recordEquity(b.time, equity, this.portfolio.cash);
      })();
      this.journal.checkpoint();
    };

    const loss = this.lossGuard.update(b.time + this.o.barMinutes * 60_000, equity);
    if (loss !== undefined) {
      this.logger.error({ loss: round2(loss), limit: this.o.risk.maxDailyLoss }, 'MAX DAILY LOSS reached: flattening and stopping');
      this.journal.recordIncident('daily-loss', { loss, equity, dayStart: this.lossGuard.dayStartEquity });
      recordBar();
      await this.flattenAll('daily-loss');
      await this.stop('daily-loss');
      return;
    }

    const step = this.strategy.onBar(this.pairBar(b.time, b.legs), { equity });
    const d = step.decision;
    const wall = (b as AlignedBar & { wall?: number }).wall ?? performance.now();
    let traded = false;
    if (d.action !== 'none') {
      this.decisionsMade++;
      const record = (): void => this.journal.recordDecision(b.time, d.action === 'enter' ? `enter-${d.side}` : `close-${d.side}-${d.reason}`, { decision: d, z: step.diagnostics.z, beta: step.diagnostics.beta, equity });
      this.emit({ type: 'decision', time: b.time, decision: d, z: step.diagnostics.z });
      // The orders carry the decision in their intent id; the decision row follows (off the latency path).
      traded = await this.act(b, d, wall, record);
    } else {
      this.latencies.push(performance.now() - wall);
    }
    recordBar();
    const every = this.o.saveStateEveryBars ?? 1;
    if (traded || d.action !== 'none' || this.barsSeen % every === 0) this.journal.saveStrategyState(b.time, this.strategy.saveState());

    const z = step.diagnostics.z;
    this.logger.info({ bar: iso(b.time), y: by.close, x: bx.close, z: z === null ? null : Number(z.toFixed(3)), pos: this.strategy.position().side, equity: round2(equity) }, 'bar');
    this.emit({ type: 'bar', time: b.time, closes: [by.close, bx.close], z, position: this.strategy.position().side, equity });
    if (this.o.maxBars && this.barsSeen >= this.o.maxBars) await this.stop('max-bars');
  }

  /** Risk checks, then orders. Returns true when orders went out. */
  private async act(b: AlignedBar, d: Exclude<Decision, { action: 'none' }>, wall: number, record: () => void): Promise<boolean> {
    const { y, x } = this.instruments;
    const barEnd = b.time + this.o.barMinutes * 60_000;
    const refuse = (reason: string): false => {
      this.latencies.push(performance.now() - wall);
      record();
      this.logger.warn({ bar: iso(b.time), decision: d.action, reason }, 'decision not executed');
      this.emit({ type: 'warn', message: `decision ${d.action} at ${iso(b.time)} not executed: ${reason}` });
      this.journal.recordDecision(b.time, 'refused', { reason });
      this.syncStrategy('refused decision');
      return false;
    };
    if (this.paused || this.reconnecting) return refuse('session paused (reconnecting or maintenance)');
    if (this.o.pauseForMaintenance !== false && isSessionMaintenance(barEnd)) return refuse('inside the brokerage session maintenance window');
    const legs: ExecLeg[] = d.orders.map((lo) => {
      const inst = lo.leg === 'y' ? y : x;
      return { name: lo.leg, instrument: inst, side: lo.side, qty: lo.qty, price: this.portfolio.price(inst.conid) ?? 0 };
    });
    const verdict = checkOrders(this.o.risk, legs.map((l) => {
      const cur = this.portfolio.qty(l.instrument.conid);
      return { symbol: l.instrument.symbol, secType: l.instrument.secType, currentQty: cur, targetQty: cur + (l.side === 'BUY' ? l.qty : -l.qty), price: l.price };
    }), barEnd);
    if (!verdict.ok) return refuse(verdict.reason);

    const intentId = `${d.action}-${b.time}`;
    this.latencyStart = wall; // measured up to the moment the first order is handed to the broker
    let res;
    try {
      res = await this.executor.execute(intentId, legs);
    } finally {
      this.latencyStart = null;
      record();
    }
    for (const o of this.journal.orders().filter((o) => o.intentId === intentId)) {
      this.emit({ type: 'order', cOID: o.cOID, symbol: o.symbol, side: o.side, qty: o.quantity, cashQty: o.cashQty, state: o.state });
    }
    if (!res.ok) {
      this.emit({ type: 'warn', message: res.note });
      this.syncStrategy('execution incomplete');
    } else {
      // Fills may differ slightly from the decision (crypto cash quantities): hold what was filled.
      this.syncStrategy('after fills', true);
    }
    return true;
  }

  // ---------------------------------------------------------------- positions, reconciliation

  private equity(): number {
    if (this.o.mode === 'live' && this.portfolio.brokerEquity !== null) return this.portfolio.brokerEquity;
    return this.portfolio.markedEquity();
  }

  /** Brings the strategy's belief in line with the positions held in the two legs. */
  private syncStrategy(why: string, quiet = false): void {
    const held = { qtyY: this.portfolio.qty(this.instruments.y.conid), qtyX: this.portfolio.qty(this.instruments.x.conid) };
    const r = this.strategy.syncPosition(held);
    if (r.changed) {
      (quiet ? this.logger.debug.bind(this.logger) : this.logger.warn.bind(this.logger))({ why, note: r.note }, 'strategy position synced to holdings');
      if (!quiet) this.journal.recordIncident('strategy-sync', { why, note: r.note });
    }
  }

  /**
   * Start and reconnect: open orders and positions at the broker are the truth. Journal orders are
   * resolved by cOID, positions adopted, differences logged, the strategy brought in line.
   */
  private async reconcile(when: string): Promise<void> {
    const changes = await this.orders.recoverOpenOrders();
    if (changes.length) this.journal.recordIncident('reconcile-orders', { when, changes });
    await this.syncPortfolio(when, true);
    if (this.strategy) this.syncStrategy(`reconcile (${when})`);
  }

  private syncTimer: NodeJS.Timeout | null = null;
  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.syncPortfolio('after fill');
    }, 1_000);
  }

  /**
   * Compares the broker's positions in the legs with ours. At start/reconnect the broker's are
   * adopted at once; on the timer a difference is adopted only if seen twice in a row (portfolio
   * endpoints can lag fills by seconds).
   */
  async syncPortfolio(when: string, adoptNow = false): Promise<void> {
    if (!this.instruments) return;
    try {
      const positions = await this.broker.positions();
      if (this.o.mode === 'live') this.portfolio.brokerEquity = (await this.broker.balance()).netLiquidation;
      for (const inst of [this.instruments.y, this.instruments.x]) {
        const brokerQty = roundQty(positions.find((p) => p.conid === inst.conid)?.qty ?? 0);
        const ours = this.portfolio.qty(inst.conid);
        if (brokerQty === ours) {
          this.pendingDiffs.delete(inst.conid);
          continue;
        }
        const seenBefore = this.pendingDiffs.get(inst.conid) === brokerQty;
        if (adoptNow || seenBefore) {
          const p = positions.find((q) => q.conid === inst.conid);
          this.logger.warn({ when, symbol: inst.symbol, ours, broker: brokerQty }, 'position differs from the broker: adopting the broker\'s');
          this.journal.recordIncident('position-adopted', { when, symbol: inst.symbol, ours, broker: brokerQty });
          this.portfolio.setHolding(inst.conid, inst.symbol, brokerQty, p?.avgCost ?? 0);
          this.journal.setPosition(inst.conid, inst.symbol, brokerQty, p?.avgCost ?? 0);
          this.pendingDiffs.delete(inst.conid);
          if (this.strategy && !adoptNow) this.syncStrategy(`portfolio sync (${when})`);
        } else {
          this.pendingDiffs.set(inst.conid, brokerQty);
        }
      }
    } catch (err) {
      this.logger.warn({ when, err: msg(err) }, 'portfolio sync failed');
    }
  }

  // ---------------------------------------------------------------- session lifecycle

  private async keepAlive(): Promise<void> {
    if (this.stopping || this.reconnecting) return;
    try {
      const s = await this.broker.keepAlive();
      if (!s.authenticated || s.competing) this.onConnection({ kind: 'down', reason: s.competing ? 'competing session' : 'brokerage session not authenticated' });
    } catch (err) {
      this.onConnection({ kind: 'down', reason: `keep-alive failed: ${msg(err)}` });
    }
  }

  private onConnection(e: ConnectionEvent): void {
    if (this.stopping) return;
    if (e.kind === 'down') {
      if (this.reconnecting) return;
      this.logger.warn({ reason: e.reason }, 'session/stream lost: pausing decisions, re-authenticating');
      this.emit({ type: 'warn', message: `session lost (${e.reason}): pausing, re-authenticating` });
      this.journal.recordIncident('session-down', { reason: e.reason });
      this.reconnecting = this.recover().finally(() => (this.reconnecting = null));
    } else if (!this.reconnecting) {
      // The stream came back by itself: reconcile (no replay after a reconnect).
      this.logger.warn('stream reconnected: reconciling orders and positions');
      this.journal.recordIncident('stream-reconnected', {});
      this.emit({ type: 'warn', message: 'stream reconnected: reconciling' });
      void this.reconcile('stream up');
    }
  }

  /** Pause, let orders in flight settle, re-authenticate, resubscribe, reconcile, resume. */
  private async recover(): Promise<void> {
    this.paused = true;
    try {
      if (this.processing) await Promise.race([this.processing, sleep(this.o.execution?.settleTimeoutMs ?? 30_000)]);
      for (let attempt = 1; !this.stopping; attempt++) {
        try {
          await this.broker.reauthenticate();
          await this.subscribe();
          await this.reconcile('reconnect');
          this.logger.info({ attempt }, 'session restored: trading again');
          this.emit({ type: 'info', message: 'session restored, reconciled: trading again' });
          this.journal.recordIncident('session-up', { attempt });
          return;
        } catch (err) {
          this.logger.warn({ attempt, err: msg(err) }, 're-authentication failed; retrying');
          await sleep(Math.min(1_000 * 2 ** Math.min(attempt, 5), 30_000));
        }
      }
    } finally {
      this.paused = false;
    }
  }

  // ---------------------------------------------------------------- stopping

  /** Kill switch (file or SIGUSR2): flatten and stop. */
  async kill(why: string): Promise<void> {
    if (this.stopping || this.halted) return; // once: the kill file is seen every 0.5 s until the engine stops
    this.logger.error({ why }, 'KILL SWITCH: flattening and stopping');
    this.emit({ type: 'warn', message: `kill switch (${why}): flattening and stopping` });
    this.journal.recordIncident('kill-switch', { why });
    this.halted = true; // no decision may race the flatten
    this.barQueue = [];
    if (this.processing) await this.processing;
    await this.flattenAll('kill-switch');
    await this.stop('kill-switch');
  }

  private async flattenAll(why: string): Promise<void> {
    if (!this.instruments || !this.strategy) return; // stopped before start-up finished: nothing traded
    const legs: ExecLeg[] = [];
    for (const [name, inst] of [['y', this.instruments.y], ['x', this.instruments.x]] as const) {
      const q = this.portfolio.qty(inst.conid);
      if (q === 0) continue;
      legs.push({ name, instrument: inst, side: q > 0 ? 'SELL' : 'BUY', qty: Math.abs(q), price: this.portfolio.price(inst.conid) ?? 0 });
    }
    if (legs.length === 0) return;
    this.logger.warn({ why, legs: legs.map((l) => `${l.side} ${l.qty} ${l.instrument.symbol}`) }, 'flattening');
    const res = await this.executor.execute(`flatten-${why}-${Date.now()}`, legs);
    this.syncStrategy(`flatten (${why})`);
    this.journal.saveStrategyState(this.lastBarTime, this.strategy.saveState());
    if (!res.ok) this.logger.error({ note: res.note }, 'flatten incomplete: check the account');
  }

  /**
   * Stops new decisions, waits a bounded time for orders in flight, optionally flattens, journals
   * the state and closes the session. Idempotent.
   */
  async stop(reason: StopReason): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.halted = true;
    this.stopReason = reason;
    this.logger.info({ reason }, 'stopping: no new decisions');
    for (const t of this.timers) clearInterval(t);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    const bound = this.o.shutdownTimeoutMs ?? 30_000;
    // Wait for the decision in progress (its orders settle inside), then for any order still open.
    const current = this.processing;
    if (current && reason !== 'max-bars' && reason !== 'daily-loss') await Promise.race([current, sleep(bound)]);
    const deadline = Date.now() + bound;
    for (const ord of this.orders.inFlight()) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.orders.settle(ord.cOID, left);
    }
    const still = this.orders.inFlight();
    if (still.length) this.logger.warn({ orders: still.map((s) => s.cOID) }, 'orders still open at shutdown (journalled; reconciled at next start)');
    if (this.o.flattenOnExit && reason !== 'kill-switch' && reason !== 'daily-loss' && this.instruments) {
      await this.flattenAll('exit');
    }
    if (this.strategy) this.journal.saveStrategyState(this.lastBarTime, this.strategy.saveState());
    this.journal.setMeta('lastStop', JSON.stringify({ reason, at: new Date().toISOString() }));
    try {
      await this.broker.close();
    } catch (err) {
      this.logger.warn({ err: msg(err) }, 'closing the broker session failed');
    }
    this.logger.info({ reason }, 'engine stopped');
    this.resolveDone();
  }

  summary(): EngineSummary {
    const pct = (xs: number[]): { p50: number; p99: number; n: number } => {
      const sorted = [...xs].sort((a, b) => a - b);
      const q = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
      return { p50: q(0.5), p99: q(0.99), n: sorted.length };
    };
    return {
      stopReason: this.stopReason ?? 'error',
      bars: this.barsSeen,
      decisions: this.decisionsMade,
      orders: this.journal.orders().length,
      fills: this.journal.fills().length,
      equity: round2(this.equity()),
      startEquity: round2(this.startEquity),
      positions: this.portfolio.all().map((h) => ({ symbol: h.symbol, qty: h.qty })),
      incidents: this.journal.incidents().length,
      latencyMs: pct(this.latencies),
      orderLatencyMs: pct(this.orderLatencies),
    };
  }

  /** Resolves when the bars received so far have been processed (benchmarks, tests). */
  async whenIdle(): Promise<void> {
    while (this.processing) await this.processing;
  }

  get isStopping(): boolean {
    return this.stopping;
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
function iso(t: number | null | undefined): string | null {
  return t === null || t === undefined ? null : new Date(t).toISOString();
}
function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
