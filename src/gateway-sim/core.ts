/**
 * The simulator's state and its engine loop, shared by the HTTP routes, the websocket and the hooks.
 */
import { EventEmitter } from 'node:events';
import { SimClock } from './clock.ts';
import { Faults } from './faults.ts';
import { nyParts } from './hours.ts';
import { InstrumentTable } from './instruments.ts';
import { Market } from './market.ts';
import type { ResolvedOptions } from './options.ts';
import { OrderBook } from './orders.ts';
import { Pacing } from './pacing.ts';
import { newAccount, type Account, type Position } from './portfolio.ts';
import { SessionState, type SessionEvent } from './session.ts';

export interface RequestLogEntry {
  /** Real epoch ms. */
  at: number;
  simTime: number;
  method: string;
  path: string;
  status: number;
  ms: number;
}

export interface MdSubscription {
  /** Real ms of the pre-flight. */
  firstSeen: number;
  fields: Set<string>;
  polls: number;
}

export class SimCore extends EventEmitter {
  readonly clock: SimClock;
  readonly instruments = new InstrumentTable();
  readonly market: Market;
  readonly session: SessionState;
  readonly accounts = new Map<string, Account>();
  readonly orders: OrderBook;
  readonly pacing: Pacing;
  readonly faults: Faults;
  readonly requestLog: RequestLogEntry[] = [];
  /** REST market-data subscriptions of the current brokerage session (pre-flight state). */
  readonly md = new Map<number, MdSubscription>();
  /** Orders that ended before this simulated time are no longer listed by /iserver/account/orders (§6.7). */
  ordersListedFrom = 0;
  /** REST live orders were read with `filters`: `sor` pushes pause until a `force=true` read (§6.7). */
  sorPaused = false;
  /** Live-order reads answered empty although orders existed (realism flags; reported by /sim/state). */
  emptyLiveOrderReads = 0;
  /** Halted conids: field 31 carries the `H` prefix and orders are not worked (hook /sim/halt). */
  readonly halted = new Set<number>();
  /** Cached positions copy (§7.6): account → snapshot time (real ms) and rows. */
  positionsCache = new Map<string, { at: number; rows: Position[] }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedReal = Date.now();
  private lastResetDay = -1;
  private scheduledDone = new Set<number>();

  constructor(readonly opts: ResolvedOptions) {
    super();
    this.setMaxListeners(1000);
    this.clock = new SimClock(opts.startTime, opts.speed);
    this.market = new Market(this.instruments, opts.seed);
    this.session = new SessionState((ev) => this.onSession(ev));
    this.pacing = new Pacing({ ...opts.pacing });
    this.faults = new Faults(opts.seed, opts.faults);
    this.resetAccounts();
    this.orders = new OrderBook({
      opts, instruments: this.instruments, market: this.market, now: () => this.clock.now(),
      account: (id) => this.accounts.get(id),
      suppressed: () => this.session.suppressed,
      hasMarketData: (conid) => this.md.has(conid),
      takeInjectedRejection: (conid) => this.faults.takeRejection(conid),
      takeInjectedInactive: (conid) => this.faults.takeInactive(conid),
      takeInjectedPrompt: (conid) => this.faults.takePrompt(conid),
      isHalted: (conid) => this.halted.has(conid),
    });
    if (opts.authenticated) this.establish(opts.paper);
    this.lastResetDay = this.resetDayKey();
  }

  private resetAccounts(): void {
    this.accounts.clear();
    const p = this.opts.paperAccount;
    const l = this.opts.liveAccount;
    this.accounts.set(p.id, newAccount(p.id, true, p.cash));
    this.accounts.set(l.id, newAccount(l.id, false, l.cash));
  }

  /** Logs in and opens the brokerage session at once (the `--authenticated` start). */
  establish(paper: boolean): void {
    this.session.login(this.opts.users[0]?.username ?? 'demo', paper);
    this.session.openBrokerage(0);
  }

  /** Simulated time of the market data shown to the client (15 minutes back when delayed). */
  mdTime(): number {
    return this.clock.now() - (this.opts.realism.delayedMarketData ? 15 * 60_000 : 0);
  }

  /** Field 6509: realtime `RpB` or delayed `DPB` (§5.2). */
  mdAvailability(): string {
    return this.opts.realism.delayedMarketData ? 'DPB' : 'RpB';
  }

  /** The account the current session sees (paper or live, chosen at login). */
  sessionAccount(): Account {
    const id = this.session.isPaper ? this.opts.paperAccount.id : this.opts.liveAccount.id;
    return this.accounts.get(id)!;
  }

  private onSession(ev: SessionEvent): void {
    if (ev === 'reset' || ev === 'logout' || !this.session.brokerage) {
      this.md.clear();
      this.orders.invalidateReplies();
    }
    this.emit('session', ev);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private resetDayKey(): number {
    // The day whose 01:00 New York reset has most recently passed.
    const p = nyParts(this.clock.now() - 3_600_000);
    return p.midnightUtc;
  }

  tick(): void {
    const now = Date.now();
    this.session.checkIdle(now, this.opts.brokerageTimeoutMs, this.opts.ssoTimeoutMs);
    if (this.opts.realism.nightlyReset) {
      const key = this.resetDayKey();
      if (key !== this.lastResetDay) {
        this.lastResetDay = key;
        this.simulateReset();
      }
    }
    const sched = this.faults.config.scheduled;
    for (let i = 0; i < sched.length; i++) {
      const s = sched[i]!;
      if (this.scheduledDone.has(i) || now - this.startedReal < s.atMs) continue;
      this.scheduledDone.add(i);
      this.runAction(s.action);
    }
    this.orders.tick();
    this.emit('tick');
  }

  runAction(action: string): void {
    switch (action) {
      case 'dropSession': this.session.dropBrokerage('sts'); break;
      case 'competing': this.session.competingLogin(); break;
      case 'reset': this.simulateReset(); break;
      case 'logout': this.session.logout(); break;
      case 'wsDrop': this.emit('wsDrop'); break;
      default: throw new Error(`unknown action ${action}`);
    }
  }

  /** The nightly brokerage-session reset (§12.3 item 3): brokerage drops, per-session state clears. */
  simulateReset(dropSso = false): void {
    this.orders.invalidateReplies();
    this.md.clear();
    if (dropSso) this.session.logout();
    else this.session.dropBrokerage('reset');
    this.session.suppressed.clear();
    this.session.ordersWarm = false;
    this.session.tradesWarm = false;
    this.session.pnlWarm = false;
    this.sorPaused = false;
    // A new trading day: finished orders drop off the live list; daily P&L starts from here.
    this.ordersListedFrom = this.clock.now();
    for (const a of this.accounts.values()) a.startCash = this.orders.marks(a).netLiq;
    this.emit('session', 'reset');
  }

  /** Everything back to the start state (keeps the options). */
  resetAll(): void {
    this.orders.reset();
    this.resetAccounts();
    this.md.clear();
    this.positionsCache.clear();
    this.pacing.reset();
    this.faults.clear();
    this.halted.clear();
    this.market.clearOverrides();
    this.requestLog.length = 0;
    this.ordersListedFrom = 0;
    this.sorPaused = false;
    this.clock.set(this.opts.startTime);
    this.session.logout();
    if (this.opts.authenticated) this.establish(this.opts.paper);
    this.lastResetDay = this.resetDayKey();
  }

  log(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > 50_000) this.requestLog.splice(0, 10_000);
  }
}
