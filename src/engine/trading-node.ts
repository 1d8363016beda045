/**
 * The trading node (NautilusTrader's `TradingNode` shape): one process, one broker session, one
 * pacing budget, one stream, one journal, N strategies.
 *
 * The node owns the broker's lifecycle and everything shared: connecting and checking the account,
 * resolving contracts, the one subscription (ticks are routed to the runners by contract), the
 * reaction to a lost / restored session (halt trading, then reconcile), reconciliation of the
 * journal's open orders and of positions against the broker, the timers (portfolio sync, kill-switch
 * file, snapshot polling), risk stops and shutdown. Each strategy is a `StrategyRunner`; they share
 * the order manager (cOIDs, lost placements, fill attribution), the risk engine (one trading state
 * for the account and per strategy) and the portfolio (a book per strategy, the account as their sum).
 *
 * One owner per concern: session keep-alive and re-login belong to the broker implementation (for
 * IBKR, the client's session); HTTP retries to the client; lost-placement lookup and fill attribution
 * to the order manager; placement serialisation to the broker. The node listens to their events.
 *
 * Positions belong to strategies. IBKR holds one net position per contract, so the node compares
 * the sum of the books with the broker. A difference is first looked for in the broker's executions
 * (a missed fill of one of our cOIDs is booked to its strategy); what is left is FOREIGN: reported
 * (log WARN, incident), never adopted, never part of any strategy's equity.
 */
import { existsSync } from 'node:fs';
import { isRetryable, type Broker, type ConnectionEvent, type Instrument, type Position, type Tick } from '../brokers/types.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/silent.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import type { JournalOrder } from '../store/journal.ts';
import { UserError } from '../util/errors.ts';
import type { FlattenOutcome, NodeEvent, NodeSummary, StopReason } from './events.ts';
import { describeForeign, foreignPositions, type ForeignPosition } from './foreign-positions.ts';
import { isTradable, nextTradableTime } from './market-hours.ts';
import type { Mode } from './mode-guard.ts';
import { OrderManager, sleep, type CrashPoint } from './order-manager.ts';
import { NakedLegs, type NakedLegAction } from './naked-leg.ts';
import { PositionCheck } from './position-check.ts';
import { Portfolio, roundQty } from './portfolio.ts';
import { ACCOUNT, checkShortability, NODE_REASON, RiskEngine, type RiskLimits } from './risk.ts';
import { checkSharedContracts, type RunnerSpec } from './runner-spec.ts';
import { iso, msg, round2, StrategyRunner } from './strategy-runner.ts';

export interface NodeOptions {
  broker: Broker;
  journal: Journal;
  logger?: Logger;
  mode: Mode;
  accountId: string;
  /** Paper mode: the strategies' books start with their shares of this. */
  startingCash: number;
  strategies: RunnerSpec[];
  risk: RiskLimits;
  marketData?: { source: 'stream' | 'poll'; pollMs?: number; graceMs?: number };
  execution?: {
    combo?: boolean; maxLegRetries?: number; settleTimeoutMs?: number;
    /** What to do with a lone leg of a pair found at start / after reconciliation (default flatten), and its time bound. */
    nakedLeg?: NakedLegAction; nakedLegTimeoutMs?: number;
  };
  /** Re-reads of a positions answer that is bad or contradicts the journal (see position-check.ts). */
  positionReread?: { rereads?: number; rereadMs?: number };
  /** Order fallback polling and unknown-placement resolution. */
  orderPollMs?: number;
  resolveTimeoutMs?: number;
  portfolioSyncMs?: number;
  killSwitchFile?: string | undefined;
  /** Stop once any strategy has processed this many live bars. */
  maxBars?: number | undefined;
  exitAfterMs?: number | undefined;
  flattenOnExit?: boolean;
  shutdownTimeoutMs?: number;
  /** Pause decisions in the nightly reset / weekend maintenance windows (by event time). */
  pauseForMaintenance?: boolean;
  /** Save each strategy's state every N bars (always after a decision). */
  saveStateEveryBars?: number;
  /** Journal the strategies' states at all (default true; a backtest never restarts, so it has none to save). */
  saveStates?: boolean;
  /** Journal each bar close (default true; a backtest keeps its own equity curve). */
  journalBars?: boolean;
  /** Measure decision latencies (default true); a backtest's bars come from a file, their latency means nothing. */
  measureLatency?: boolean;
  /** Orders whose broker ids the order manager remembers (default 10,000; a backtest's broker echoes every cOID). */
  recentOrders?: number;
  coidPrefix?: string;
  crashHook?: (point: CrashPoint, cOID: string) => Promise<void>;
  /** Progress for a human (the demo prints these). */
  onEvent?: (e: NodeEvent) => void;
  /** The event types `onEvent` wants (default: all); events of other types are not even built per bar. */
  eventTypes?: readonly NodeEvent['type'][];
  /**
   * The market's clock for shutdown decisions (is the market open to flatten?). Default: the newest
   * event time seen (ticks, any market-data update, bars), moved on by the wall clock since it was
   * seen, so a market whose data stopped at the close is seen closed.
   */
  marketClock?: () => number;
  /** How often (wall ms) each strategy's market is checked for open/closed (`market` events on change; default 15 s). */
  marketCheckMs?: number;
}

export class TradingNode {
  private readonly broker: Broker;
  private readonly journal: Journal;
  private readonly logger: Logger;
  private readonly portfolio = new Portfolio();
  readonly orders: OrderManager;
  readonly risk: RiskEngine;
  readonly runners: StrategyRunner[];
  private readonly positionCheck: PositionCheck;
  readonly nakedLegs: NakedLegs;
  private readonly byConid = new Map<number, StrategyRunner[]>();
  private instruments: Instrument[] = [];
  private runId = 0;
  private stopping = false;
  private stopReason: StopReason | null = null;
  private flattenOutcome: FlattenOutcome = 'not-requested';
  private riskStopping = false;
  private sessionDown = false;
  private reconciling: Promise<void> | null = null;
  private reconcileAgain = false;
  private timers: NodeJS.Timeout[] = [];
  private syncTimer: NodeJS.Timeout | null = null;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private startEquity = 0;
  /** Foreign positions as last reported (conid -> qty), and a candidate awaiting confirmation. */
  private foreign = new Map<number, { symbol: string; qty: number }>();
  private foreignCandidate = '';
  private lastEvent = { time: -Infinity, wall: 0 };
  private started = false;
  /** Each strategy's market as last reported (`market` events are sent on change). */
  private readonly marketOpen = new Map<string, boolean>();

  constructor(private readonly o: NodeOptions) {
    this.broker = o.broker;
    this.journal = o.journal;
    this.logger = o.logger ?? silentLogger;
    if (o.strategies.length === 0) throw new UserError('the trading node has no strategy to run: list at least one strategy file.', 'TANDEM_CONFIG_INVALID');
    this.risk = new RiskEngine(o.risk, (scope, state, reason) => {
      this.logger.warn({ scope: scope === ACCOUNT ? 'account' : scope, state, reason }, 'trading state changed');
    }, (scope, state, reasons) => this.emit({ type: 'trading-state', strategyId: scope === ACCOUNT ? null : scope, state, reasons, time: Date.now() }));
    this.orders = new OrderManager({
      broker: o.broker, journal: o.journal, portfolio: this.portfolio, logger: this.logger,
      coidPrefix: o.coidPrefix ?? 'tdm', pollMs: o.orderPollMs ?? 2_000, resolveTimeoutMs: o.resolveTimeoutMs ?? 20_000,
      ...(o.crashHook ? { crashHook: o.crashHook } : {}),
      ...(o.recentOrders !== undefined ? { recentOrders: o.recentOrders } : {}),
      // Only for the decision latency (a runner that does not measure it has nothing to do there).
      ...(o.measureLatency !== false ? { beforeSend: (ord: { strategyId: string }) => this.runner(ord.strategyId)?.onOrderSending() } : {}),
      onFill: (f, order) => {
        this.emit({ type: 'fill', strategyId: order.strategyId, cOID: order.cOID, symbol: order.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission });
        this.scheduleSync();
      },
    });
    this.runners = o.strategies.map((spec) => new StrategyRunner(spec, {
      journal: o.journal, portfolio: this.portfolio, risk: this.risk, orders: this.orders, logger: this.logger, mode: o.mode,
      emit: (e) => this.emit(e),
      listens: (type) => this.listens(type),
      execution: {
        combo: o.execution?.combo ?? false, maxLegRetries: o.execution?.maxLegRetries ?? 2,
        settleTimeoutMs: o.execution?.settleTimeoutMs ?? 30_000, outsideRth: o.risk.allowOutsideRth,
      },
      pauseForMaintenance: o.pauseForMaintenance !== false,
      saveStateEveryBars: o.saveStateEveryBars ?? 1,
      ...(o.saveStates === false ? { saveStates: false } : {}),
      ...(o.journalBars === false ? { journalBars: false } : {}),
      ...(o.measureLatency === false ? { measureLatency: false } : {}),
      graceMs: o.marketData?.graceMs ?? 0,
      maxBarAgeBars: o.risk.maxBarAgeBars ?? 1,
      dailyLossBreached: (t, own) => this.checkDailyLoss(t, own),
      onBarDone: () => this.onBarDone(),
    }, spec.capitalShare * o.startingCash));
    this.positionCheck = this.newPositionCheck();
    this.nakedLegs = new NakedLegs({
      action: o.execution?.nakedLeg ?? 'flatten', timeoutMs: o.execution?.nakedLegTimeoutMs ?? 120_000,
      allowOutsideRth: o.risk.allowOutsideRth, journal: o.journal, logger: this.logger, risk: this.risk, emit: (e) => this.emit(e),
      now: () => this.marketNow(),
      isDisputed: (id) => this.positionCheck.isDisputed(id),
      hasOrdersInFlight: (id) => this.orders.inFlight().some((x) => x.strategyId === id),
      price: async (leg) => this.portfolio.price(leg.instrument.conid) ?? (await this.broker.snapshot([leg.instrument]))[0]?.price ?? 0,
      stopped: () => this.stopping,
    });
  }

  private newPositionCheck(): PositionCheck {
    return new PositionCheck({
      read: () => this.broker.positions(),
      traded: () => this.instruments.map((i) => ({ conid: i.conid, symbol: i.symbol })),
      booksQty: (conid) => this.portfolio.accountQty(conid),
      holders: (conid) => this.runners.filter((r) => r.book.qty(conid) !== 0).map((r) => r.id),
      risk: this.risk, journal: this.journal, logger: this.logger, emit: (e) => this.emit(e),
      stopped: () => this.stopping,
      ...this.o.positionReread,
    });
  }

  /** A strategy's flatten, refused while its holdings are disputed with the broker (it would trade on a wrong picture). */
  private async flattenRunner(r: StrategyRunner, why: string): Promise<boolean> {
    if (this.positionCheck.isDisputed(r.id)) {
      this.logger.error({ strategy: r.id, why }, `flatten refused for ${r.id}: its positions are disputed with the broker; nothing was sent, check the account`);
      this.journal.recordIncident('flatten-refused', { why, reason: 'positions disputed' }, r.id);
      return false;
    }
    return r.flatten(why);
  }

  private emit(e: NodeEvent): void {
    if (this.o.eventTypes && !this.o.eventTypes.includes(e.type)) return;
    this.o.onEvent?.(e);
  }

  private listens(type: NodeEvent['type']): boolean {
    return this.o.onEvent !== undefined && (this.o.eventTypes === undefined || this.o.eventTypes.includes(type));
  }

  runner(strategyId: string): StrategyRunner | undefined {
    return this.runners.find((r) => r.id === strategyId);
  }

  /** Runs until a stop condition; resolves with a summary. */
  async run(): Promise<NodeSummary> {
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
      throw new UserError(`the journal ${this.journal.file} belongs to account ${journalAccount}, not ${o.accountId}: use another dataDir (or journal.path) per account.`, 'TANDEM_CONFIG_INVALID');
    }
    for (const s of o.strategies) checkShortability([s.legs.y, s.legs.x], s.shortMode, `strategy ${s.id}`);
    checkSharedContracts(o.strategies);
    await broker.connect();
    const accounts = await broker.accounts();
    const acct = accounts.find((a) => a.id === o.accountId);
    if (!acct) {
      throw new UserError(`account ${o.accountId} is not among the gateway session's accounts (${accounts.map((a) => a.id).join(', ') || 'none'}). Log in with the right user, or fix the account id in .env.`, 'TANDEM_MODE_MISMATCH');
    }
    if (acct.isPaper !== (o.mode === 'paper')) {
      throw new UserError(`${o.mode} mode refuses account ${o.accountId}: the gateway reports it as a ${acct.isPaper ? 'paper' : 'live'} account.`, 'TANDEM_MODE_MISMATCH');
    }
    broker.useAccount(o.accountId);
    this.emit({ type: 'session', state: 'up', what: 'start', reason: null, time: Date.now() });
    await this.resolveInstruments();
    this.journal.setMeta('account', o.accountId);
    this.journal.setMeta('mode', o.mode);
    this.claimLegacyRows();
    this.runId = this.journal.startRun(this.runners.map((r) => r.id));
    this.loadBooks();

    await this.reconcile('start');
    for (const r of this.runners) await r.warmUp((i, bar, n) => this.broker.history(i, bar, n));
    this.startEquity = this.accountEquity();
    await this.subscribe();
    this.startTimers();
    this.started = true;
    this.nakedLegs.check(this.runners, 'start');
    const names = this.runners.map((r) => `${r.id} (${r.legs.y.symbol}/${r.legs.x.symbol}, equity ${round2(r.equity())})`).join(', ');
    this.logger.info({ mode: o.mode, account: o.accountId, strategies: this.runners.map((r) => r.id), equity: round2(this.startEquity) }, 'engine running');
    this.emit({ type: 'info', message: `engine running: ${o.mode} account ${o.accountId}, ${names}` });
    this.emit({ type: 'started', mode: o.mode, accountId: o.accountId, strategies: this.runners.map((r) => r.id), time: Date.now() });
    this.checkMarkets();
  }

  /** Each strategy's market (both legs tradable at the market's time): a `market` event when it opened or closed. */
  private checkMarkets(): void {
    if (this.stopping) return;
    const now = this.marketNow();
    // A backtest's clock starts with its first bar: before it there is no market time to judge.
    if (!Number.isFinite(now)) return;
    const outsideRth = this.o.risk.allowOutsideRth;
    for (const r of this.runners) {
      const secTypes = [r.legs.y.secType, r.legs.x.secType];
      const open = secTypes.every((t) => isTradable(t, now, outsideRth));
      if (this.marketOpen.get(r.id) === open) continue;
      this.marketOpen.set(r.id, open);
      this.emit({ type: 'market', strategyId: r.id, open, marketTime: now, nextOpen: open ? null : nextTradableTime(secTypes, now, outsideRth) });
    }
  }

  /** Resolves every leg once (two strategies may share a contract when allowed). */
  private async resolveInstruments(): Promise<void> {
    const cache = new Map<string, Promise<Instrument>>();
    const resolve = (spec: RunnerSpec['legs']['y']): Promise<Instrument> => {
      const k = `${spec.symbol}/${spec.secType}/${spec.exchange}/${spec.currency}/${spec.conid ?? ''}`;
      let p = cache.get(k);
      if (!p) cache.set(k, (p = this.broker.resolveInstrument(spec)));
      return p;
    };
    for (const r of this.runners) {
      const [y, x] = await Promise.all([resolve(r.spec.legs.y), resolve(r.spec.legs.x)]);
      r.bind(y, x);
      for (const i of [y, x]) {
        this.orders.registerInstrument(i);
        const list = this.byConid.get(i.conid) ?? [];
        if (!list.includes(r)) list.push(r);
        this.byConid.set(i.conid, list);
        if (!this.instruments.some((j) => j.conid === i.conid)) this.instruments.push(i);
      }
    }
  }

  /** A version-1 journal ran one strategy: its rows go to the strategy that trades the same symbols. */
  private claimLegacyRows(): void {
    if (!this.journal.hasLegacyRows()) return;
    const symbols = this.journal.legacySymbols();
    const owner = this.runners.length === 1 ? this.runners[0] : this.runners.find((r) => symbols.every((s) => s === r.legs.y.symbol || s === r.legs.x.symbol || s.includes('/')));
    if (!owner) {
      this.logger.warn({ symbols }, 'the journal holds rows of an earlier single-strategy run that match no strategy of this node: left unattributed (their positions count as foreign)');
      return;
    }
    this.journal.claimLegacyRows(owner.id);
    this.logger.info({ strategy: owner.id, symbols }, 'rows of an earlier single-strategy journal attributed to this strategy');
    this.journal.recordIncident('journal-migrated', { strategy: owner.id, symbols }, owner.id);
  }

  /** Books from the journal: positions as journalled, paper cash = share of startingCash moved by the strategy's fills. */
  private loadBooks(): void {
    for (const r of this.runners) {
      for (const p of this.journal.positions(r.id)) r.book.setHolding(p.conid, p.symbol, p.qty, p.avgCost);
      if (this.o.mode === 'paper') {
        for (const f of this.journal.fills(r.id)) r.book.cash -= (f.side === 'BUY' ? f.qty : -f.qty) * f.price + f.commission;
      }
    }
  }

  private async subscribe(): Promise<void> {
    const onTick = (t: Tick): void => this.onTick(t);
    await this.broker.subscribe(this.instruments, {
      ...(this.o.marketData?.source === 'poll' ? {} : { onTick }),
      onTime: (time) => this.noteTime(time),
      onOrder: (ord) => this.orders.onBrokerOrder(ord),
      onFill: (f) => this.orders.onBrokerFill(f),
      onConnection: (e) => this.onConnection(e),
    });
  }

  private startTimers(): void {
    const o = this.o;
    if (o.marketData?.source === 'poll') {
      let busy = false;
      this.timers.push(setInterval(() => {
        if (busy || this.sessionDown) return;
        busy = true;
        this.broker.snapshot(this.instruments)
          .then((ticks) => ticks.forEach((t) => this.onTick(t)))
          .catch((err: unknown) => this.logger.warn({ err: msg(err) }, 'snapshot poll failed'))
          .finally(() => (busy = false));
      }, o.marketData.pollMs ?? 1_000));
    }
    // One timer sync at a time: a doubted answer is re-read (seconds), and a slow gateway must not pile them up.
    let timerSync: Promise<void> | null = null;
    this.timers.push(setInterval(() => {
      if (timerSync) return;
      timerSync = this.syncPositions('timer').catch((err: unknown) => this.logger.warn({ err: msg(err) }, 'portfolio sync failed')).finally(() => (timerSync = null));
    }, o.portfolioSyncMs ?? 60_000));
    this.timers.push(setInterval(() => this.checkMarkets(), o.marketCheckMs ?? 15_000));
    if (o.killSwitchFile) {
      const file = o.killSwitchFile;
      this.timers.push(setInterval(() => {
        if (existsSync(file)) void this.kill(`kill-switch file ${file}`);
      }, 500));
    }
  }

  // ---------------------------------------------------------------- market data

  /** The data's own time moved (the market clock for shutdown decisions). */
  private noteTime(time: number): void {
    if (time > this.lastEvent.time) this.lastEvent = { time, wall: Date.now() };
  }

  /** A tick from the stream (or a poll): routed to the runners that trade the contract. */
  onTick(t: Tick): void {
    this.noteTime(t.time);
    this.portfolio.setPrice(t.conid, t.price);
    for (const r of this.byConid.get(t.conid) ?? []) r.onTick(t);
  }

  private marketNow(): number {
    if (this.o.marketClock) return this.o.marketClock();
    const bars = this.runners.map((r) => (r.latestBarTime ?? -Infinity) + r.spec.barMinutes * 60_000);
    const newest = Math.max(this.lastEvent.time, ...bars);
    if (!Number.isFinite(newest)) return Date.now();
    return newest + (this.lastEvent.time === newest ? Date.now() - this.lastEvent.wall : 0);
  }

  private onBarDone(): void {
    const max = this.o.maxBars;
    if (!max || this.stopping) return;
    if (this.runners.some((r) => r.summary({ orders: 0, fills: 0 }).bars >= max)) void this.stop('max-bars');
  }

  // ---------------------------------------------------------------- equity, risk stops

  /** The account's equity as the node sizes it: paper, the sum of the books; live, the net liquidation. */
  private accountEquity(): number {
    if (!this.equityFromBooks()) return this.portfolio.accountEquity!;
    let sum = 0;
    for (const r of this.runners) sum += this.portfolio.bookEquity(r.book);
    return sum;
  }

  /** Paper equity: the sum of the books (live mode takes the broker's net liquidation once known). */
  private equityFromBooks(): boolean {
    return !(this.o.mode === 'live' && this.portfolio.accountEquity !== null);
  }

  /**
   * `ownEquity`: the equity the asking runner just marked. With one runner, summed from the books,
   * the account's equity is that same sum (0 + its book's): not marked a second time at every bar.
   */
  private checkDailyLoss(eventTime: number, ownEquity?: number): boolean {
    if (this.riskStopping) return true;
    const equity = this.equityFromBooks() && this.runners.length === 1 && ownEquity !== undefined ? 0 + ownEquity : this.accountEquity();
    const breach = this.risk.dailyLoss(eventTime, equity);
    if (!breach) return false;
    this.logger.error({ loss: round2(breach.loss), limit: this.o.risk.maxDailyLoss }, 'MAX DAILY LOSS reached: flattening every strategy and stopping');
    this.journal.recordIncident('daily-loss', { loss: breach.loss, equity: this.accountEquity(), dayStart: breach.dayStart });
    void this.riskStop('daily-loss', 'max daily loss');
    return true;
  }

  /** Kill switch (file or SIGUSR2): flatten and stop. */
  async kill(why: string): Promise<void> {
    if (this.stopping || this.riskStopping) return; // once: the kill file is seen every 0.5 s until the node stops
    this.logger.error({ why }, 'KILL SWITCH: flattening and stopping');
    this.emit({ type: 'warn', message: `kill switch (${why}): flattening and stopping` });
    this.journal.recordIncident('kill-switch', { why });
    await this.riskStop('kill-switch', why);
  }

  /** Halts every strategy, lets the bars in progress finish, flattens everything, stops. */
  private async riskStop(reason: 'kill-switch' | 'daily-loss', why: string): Promise<void> {
    if (this.riskStopping) return;
    this.riskStopping = true;
    this.risk.set(ACCOUNT, reason, 'halted'); // no decision may race the flatten
    for (const r of this.runners) r.stopAccepting();
    await Promise.all(this.runners.map((r) => r.busy));
    const results = await Promise.all(this.runners.map((r) => this.flattenRunner(r, reason)));
    this.flattenOutcome = results.every(Boolean) ? 'done' : 'incomplete';
    this.logger.warn({ why, flatten: this.flattenOutcome }, 'risk stop');
    await this.stop(reason);
  }

  // ---------------------------------------------------------------- session and reconciliation

  private onConnection(e: ConnectionEvent): void {
    if (this.stopping) return;
    if (e.kind === 'down') {
      if (this.sessionDown) return;
      this.sessionDown = true;
      this.risk.set(ACCOUNT, NODE_REASON.sessionDown, 'halted');
      this.logger.warn({ reason: e.reason }, 'session/stream lost: no new decisions until the session is back');
      this.emit({ type: 'session', state: 'down', what: 'session', reason: e.reason, time: Date.now() });
      this.emit({ type: 'warn', message: `session lost (${e.reason}): pausing until it is restored` });
      this.journal.recordIncident('session-down', { reason: e.reason });
      return;
    }
    const wasDown = this.sessionDown;
    this.sessionDown = false;
    this.risk.set(ACCOUNT, NODE_REASON.sessionDown, null);
    this.emit({ type: 'session', state: 'up', what: e.what === 'session' || wasDown ? 'session' : 'stream', reason: null, time: Date.now() });
    if (e.what === 'session' || wasDown) {
      this.logger.info('session restored: resubscribing and reconciling');
      this.journal.recordIncident('session-up', { what: e.what });
      this.emit({ type: 'info', message: 'session restored: reconciling, trading again' });
      void this.subscribe().catch((err: unknown) => this.logger.warn({ err: msg(err) }, 'resubscribing failed'));
    } else {
      this.logger.warn('stream reconnected: reconciling orders and positions');
      this.journal.recordIncident('stream-reconnected', {});
      this.emit({ type: 'warn', message: 'stream reconnected: reconciling' });
    }
    this.reconcileSoon(e.what === 'session' ? 'session restored' : 'stream reconnected', 0);
  }

  /**
   * Reconciles now; when it fails with a retryable broker error (gateway busy, 5xx, timeout) it is
   * tried again a little later, up to 5 times; any other failure is logged as an error.
   */
  private reconcileSoon(when: string, attempt: number): void {
    void this.reconcile(when).catch((err: unknown) => {
      if (isRetryable(err) && attempt < 5 && !this.stopping) {
        this.logger.warn({ when, attempt: attempt + 1, err: msg(err) }, 'reconciliation failed (retryable): trying again in 5 s');
        setTimeout(() => this.reconcileSoon(when, attempt + 1), 5_000).unref();
      } else {
        this.logger.error({ when, err: msg(err) }, 'reconciliation failed: orders and positions are checked again at the next reconnect or start');
        this.journal.recordIncident('reconcile-failed', { when, error: msg(err) });
      }
    });
  }

  /**
   * Start and reconnect: the journal's open orders are resolved by cOID at the broker, positions are
   * compared with the books (foreign ones reported), the strategies brought in line with their books.
   * One reconciliation at a time; a request during one runs once more after it.
   */
  reconcile(when: string): Promise<void> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      try {
        do {
          this.reconcileAgain = false;
          const changes = await this.orders.recoverOpenOrders();
          if (changes.length) this.journal.recordIncident('reconcile-orders', { when, changes });
          await this.syncPositions(when, true);
          for (const r of this.runners) r.syncStrategy(`reconcile (${when})`);
          if (this.started) this.nakedLegs.check(this.runners, when);
        } while (this.reconcileAgain && !this.stopping);
      } finally {
        this.reconciling = null;
      }
    })();
    return this.reconciling;
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.stopping) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.syncPositions('after fill').catch((err: unknown) => this.logger.warn({ err: msg(err) }, 'portfolio sync failed'));
    }, 1_000);
  }

  /**
   * Compares the broker's positions with the sum of the books. A difference is first looked for in
   * the broker's executions (a missed fill of ours is booked to its strategy); what remains is
   * foreign and is reported, never adopted. At start / reconnect it is reported at once; on the
   * timer only when the same difference is seen twice in a row (the portfolio endpoint lags fills).
   */
  private async syncPositions(when: string, now = false): Promise<void> {
    // Doubted: a bad or contradicting answer is read again before anything is concluded from it.
    const first = await this.positionCheck.read(when);
    if (first === null) {
      this.positionCheck.judge(when, null);
      return;
    }
    let positions = first;
    if (this.o.mode === 'live') this.portfolio.accountEquity = (await this.broker.balance()).netLiquidation;
    let diff = this.differences(positions);
    let signature = JSON.stringify(diff);
    const confirmed = now || signature === this.foreignCandidate;
    this.foreignCandidate = signature;
    if (!confirmed) {
      // A lagging portfolio endpoint: look again at the next sync (the doubt check judges every answer).
      this.positionCheck.judge(when, positions);
      return;
    }
    if (diff.some((d) => this.byConid.has(d.conid))) {
      const found = await this.orders.recoverFills();
      if (found > 0) {
        this.logger.warn({ when, fills: found }, 'executions of our orders the journal had missed were booked to their strategies');
        this.journal.recordIncident('fills-recovered', { when, fills: found });
        for (const r of this.runners) r.syncStrategy(`missed fills (${when})`);
        positions = (await this.positionCheck.read(when)) ?? positions;
        diff = this.differences(positions);
        signature = JSON.stringify(diff);
        this.foreignCandidate = signature;
      }
    }
    this.positionCheck.judge(when, positions);
    const before = JSON.stringify([...this.foreign.entries()].sort((a, b) => a[0] - b[0]).map(([conid, v]) => ({ conid, ...v })));
    this.foreign = new Map(diff.map((d) => [d.conid, { symbol: d.symbol, qty: d.qty }]));
    if (signature === before) return;
    if (diff.length === 0) {
      this.logger.info({ when }, 'positions at the broker match the strategies\' books');
      return;
    }
    for (const d of diff) {
      const traded = this.byConid.get(d.conid)?.map((r) => r.id) ?? [];
      this.logger.warn({ when, conid: d.conid, symbol: d.symbol, foreignQty: d.qty, brokerQty: d.brokerQty, booksQty: d.booksQty, tradedBy: traded },
        `FOREIGN POSITION: ${describeForeign(d, traded)}`);
    }
    this.journal.recordIncident('foreign-positions', { when, positions: diff });
    this.emit({ type: 'warn', message: `foreign positions at the broker (not adopted): ${diff.map((d) => `${d.symbol} ${d.qty}`).join(', ')}` });
  }

  /** Broker position minus the books' sum, per contract, where non-zero (foreign-positions.ts). */
  private differences(positions: Position[]): ForeignPosition[] {
    const books = this.portfolio.allBooks().flatMap((b) => b.all());
    return foreignPositions(positions, books, (c) => this.instruments.find((i) => i.conid === c)?.symbol);
  }

  // ---------------------------------------------------------------- stopping

  /**
   * Stops new decisions, waits a bounded time for the bars and orders in flight (saying what it
   * waits for), optionally flattens (only while the market is open), journals the state and closes
   * the session. Idempotent.
   */
  async stop(reason: StopReason): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    this.emit({ type: 'stopping', reason, time: Date.now() });
    this.risk.set(ACCOUNT, NODE_REASON.shutdown, 'halted');
    this.logger.info({ reason }, 'stopping: no new decisions');
    for (const t of this.timers) clearInterval(t);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    for (const r of this.runners) r.stopAccepting();
    const bound = this.o.shutdownTimeoutMs ?? 30_000;
    const deadline = Date.now() + bound;
    // Wait for the decisions in progress (their orders settle inside), then for any order still open.
    // (A runner that asked for this stop from inside its bar has returned by now: stop() is never awaited there.)
    const busy = this.runners.filter((r) => r.busy);
    if (busy.length) {
      this.logger.info({ strategies: busy.map((r) => r.id), boundSeconds: Math.round(bound / 1000) }, 'shutdown: waiting for the decisions in progress and their orders');
      await Promise.race([Promise.all(busy.map((r) => r.busy)), sleep(bound)]);
    }
    if (this.nakedLegs.busy) await Promise.race([this.nakedLegs.whenDone(), sleep(Math.max(0, deadline - Date.now()))]);
    const still = await this.drainOpenOrders(deadline);
    if (still.length) this.reportOpenAtStop(reason, still);
    if (this.o.flattenOnExit && reason !== 'kill-switch' && reason !== 'daily-loss' && this.started) {
      this.flattenOutcome = await this.flattenOnExit();
    }
    for (const r of this.runners) r.saveState();
    this.journal.setMeta('lastStop', JSON.stringify({ reason, flatten: this.flattenOutcome, at: new Date().toISOString() }));
    try {
      await this.broker.close();
    } catch (err) {
      this.logger.warn({ err: msg(err) }, 'closing the broker session failed');
    }
    this.logger.info({ reason, flatten: this.flattenOutcome }, 'engine stopped');
    this.resolveDone();
  }

  /**
   * The stop's wait for every order the journal holds open, whatever put it there (a decision, a
   * naked leg, a reconciliation), each looked after by the order manager's `settle` (it owns the
   * lookups, the same-cOID resend of a lost placement and the polling; the node adds no poller).
   * The open set is read again after each pass: a resolution changes it.
   *
   * Why the second window: an order whose outcome was unknown is resolved by requests that cannot
   * be cut short (a lookup, a same-cOID resend), and with a slow or faulty gateway its answer can
   * come after the shutdown bound: the broker has just shown the order working (or the resend has
   * just placed it). Walking away then leaves a market order working at the broker while the
   * engine believes it stopped cleanly (seen: a 5xx/429 run stopped at --max-bars with such an
   * order open). So an order that was unknown during the wait and is acknowledged after the bound
   * gets one settle window (`execution.settleTimeoutMs`, what a decision gives each order). What is
   * still open after that is returned, to be reported loudly.
   */
  private async drainOpenOrders(deadline: number): Promise<JournalOrder[]> {
    const wasUnknown = new Set<string>();
    const lateWindowGiven = new Set<string>();
    const settleMs = this.o.execution?.settleTimeoutMs ?? 30_000;
    for (;;) {
      const open = this.orders.inFlight();
      for (const ord of open) if (ord.state === 'unknown' || ord.state === 'new') wasUnknown.add(ord.cOID);
      if (open.length === 0) return open;
      if (Date.now() < deadline) {
        for (const ord of open) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          this.logger.info({ cOID: ord.cOID, strategy: ord.strategyId, state: ord.state, waitSeconds: Math.round(left / 1000) }, 'shutdown: waiting for an open order to settle');
          await this.orders.settle(ord.cOID, left);
        }
        continue;
      }
      const late = open.filter((o) => wasUnknown.has(o.cOID) && !lateWindowGiven.has(o.cOID) && (o.state === 'working' || o.state === 'partial'));
      if (late.length === 0) return open;
      for (const ord of late) {
        lateWindowGiven.add(ord.cOID);
        this.logger.warn({ cOID: ord.cOID, strategy: ord.strategyId, state: ord.state, waitSeconds: Math.round(settleMs / 1000) },
          'shutdown: an order whose outcome was unknown is now acknowledged by the broker after the shutdown bound: waiting for it to settle');
        this.emit({ type: 'warn', message: `shutdown: order ${ord.cOID} (${ord.side} ${ord.symbol}, ${ord.state}) acknowledged after the shutdown bound: waiting up to ${Math.round(settleMs / 1000)} s for it to settle` });
        await this.orders.settle(ord.cOID, settleMs);
      }
    }
  }

  /** Orders left open by a stop: said loudly (log ERROR, incident, warn event), never silently. */
  private reportOpenAtStop(reason: StopReason, still: JournalOrder[]): void {
    const orders = still.map((o) => ({ cOID: o.cOID, strategy: o.strategyId, side: o.side, symbol: o.symbol, qty: o.quantity ?? o.cashQty, state: o.state, brokerOrderId: o.brokerOrderId }));
    const list = still.map((o) => `${o.cOID} ${o.side} ${o.quantity ?? o.cashQty ?? ''} ${o.symbol} (${o.state}${o.brokerOrderId ? `, broker order id ${o.brokerOrderId}` : ''})`).join(', ');
    this.logger.error({ reason, orders }, `ORDERS STILL OPEN AT STOP: ${list}; they may still fill or stay working at the broker; journalled, reconciled at the next start`);
    this.journal.recordIncident('orders-open-at-stop', { reason, orders });
    this.emit({ type: 'warn', message: `orders still open at stop (${reason}): ${list}` });
  }

  /** --flatten-on-exit: only while every held contract's market is open; otherwise say so and leave them. */
  private async flattenOnExit(): Promise<FlattenOutcome> {
    const held = this.runners.flatMap((r) => r.flattenLegs().map((l) => ({ r, l })));
    if (held.length === 0) return 'done';
    const now = this.marketNow();
    const closed = held.filter(({ l }) => !isTradable(l.instrument.secType, now, this.o.risk.allowOutsideRth));
    if (closed.length) {
      const what = closed.map(({ r, l }) => `${r.id}: ${l.instrument.symbol} ${r.book.qty(l.instrument.conid)}`).join(', ');
      this.logger.error({ marketTime: iso(now), positions: what }, `--flatten-on-exit refused: the market is closed at ${iso(now)} for ${[...new Set(closed.map(({ l }) => l.instrument.symbol))].join(', ')}; positions left as they are`);
      this.emit({ type: 'warn', message: `flatten on exit refused: market closed (${what}); positions left open` });
      this.journal.recordIncident('flatten-refused', { marketTime: now, positions: what });
      return 'market-closed';
    }
    this.risk.set(ACCOUNT, NODE_REASON.shutdown, null);
    this.risk.set(ACCOUNT, NODE_REASON.flattenOnExit, 'reducing');
    const results = await Promise.all(this.runners.map((r) => this.flattenRunner(r, 'exit')));
    return results.every(Boolean) ? 'done' : 'incomplete';
  }

  /**
   * Second Ctrl-C: cancel every order still working at the broker. Returns the orders whose cancel
   * could not be sent (the caller lists them loudly).
   */
  async cancelWorkingOrders(): Promise<{ cOID: string; brokerOrderId: string | null; symbol: string; side: string; state: string }[]> {
    const failed: { cOID: string; brokerOrderId: string | null; symbol: string; side: string; state: string }[] = [];
    // Nothing new goes out from here (a decision in progress may retry a cancelled leg), and an
    // order that became open during a pass (its placement was under way) gets the next pass.
    this.orders.closeForNewOrders('the node is cancelling its working orders (second stop signal)');
    const tried = new Set<string>();
    for (let todo = this.orders.inFlight(); todo.length; todo = this.orders.inFlight().filter((o) => !tried.has(o.cOID))) {
      for (const o of todo) {
        tried.add(o.cOID);
        const ok = await this.orders.cancel(o.cOID).catch(() => false);
        const cur = this.journal.order(o.cOID) ?? o;
        this.logger.warn({ cOID: o.cOID, brokerOrderId: cur.brokerOrderId, ok }, ok ? 'cancel sent for a working order' : 'could not cancel a working order');
        if (!ok) failed.push({ cOID: o.cOID, brokerOrderId: cur.brokerOrderId, symbol: o.symbol, side: o.side, state: cur.state });
      }
    }
    return failed;
  }

  summary(): NodeSummary {
    const strategies = this.runners.map((r) => r.summary(this.runId ? this.journal.runCounts(this.runId, r.id) : { orders: 0, fills: 0 }));
    const run = this.runId ? this.journal.runCounts(this.runId) : { orders: 0, fills: 0 };
    const positions = new Map<string, number>();
    for (const s of strategies) for (const p of s.positions) positions.set(p.symbol, roundQty((positions.get(p.symbol) ?? 0) + p.qty));
    const merged = (key: 'latencyMs' | 'orderLatencyMs') => {
      const all = this.runners.flatMap((r) => (key === 'latencyMs' ? r.latencySamples().all : r.latencySamples().orders)).sort((a, b) => a - b);
      const q = (p: number): number => (all.length ? all[Math.min(all.length - 1, Math.floor(p * all.length))]! : 0);
      return { p50: q(0.5), p99: q(0.99), n: strategies.reduce((s, x) => s + x[key].n, 0) };
    };
    return {
      stopReason: this.stopReason ?? 'error',
      flatten: this.flattenOutcome,
      strategies,
      bars: strategies.reduce((s, x) => s + x.bars, 0),
      decisions: strategies.reduce((s, x) => s + x.decisions, 0),
      orders: run.orders,
      fills: run.fills,
      equity: round2(this.accountEquity()),
      startEquity: round2(this.startEquity),
      positions: [...positions.entries()].filter(([, q]) => q !== 0).map(([symbol, qty]) => ({ symbol, qty })),
      foreign: [...this.foreign.entries()].map(([conid, v]) => ({ conid, ...v })),
      incidents: this.journal.incidents().length,
      latencyMs: merged('latencyMs'),
      orderLatencyMs: merged('orderLatencyMs'),
    };
  }

  /** Resolves when the bars received so far have been processed (benchmarks, tests). */
  async whenIdle(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.whenIdle()));
  }

  get isStopping(): boolean {
    return this.stopping;
  }
}
