/**
 * The observation side of a node in this process: it takes the node's events, keeps the node
 * status record (`<journal>.status.json`: heartbeat, session and trading state, each strategy's
 * latest z, warm-up, market open/closed), follows the journal with a `JournalWatcher` and from it
 * prints the trade lines (decision / order / fill), feeds the metrics and sends the alerts.
 *
 * The node's state comes from its typed events only (`started`, `session`, `trading-state`,
 * `warmup`, `market`, `stopping`, `bar`): no log text is matched and nothing is inferred from the
 * journal's incidents here (those serve readers in another process, which have only the journal
 * and this record). Money records (orders, fills, decisions) are read from the journal, so the
 * lines say what was made durable. Nothing here can stop or slow the node: a failed status write
 * or alert is logged and dropped.
 */
import type { NodeEvent, StopReason, TradingReason } from '../engine/events.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { JournalReader, type ReaderDecision } from './journal-reader.ts';
import { closedUntilText, decisionLine, fillLine, heartbeatLine, orderLine, reasonWord, renderLine, warmupText, type RenderOptions, type TradeLine } from './log-lines.ts';
import type { NodeMetrics } from './metrics.ts';
import { emptyStatus, MAX_Z_POINTS, writeNodeStatus, type NodeStatus, type SessionState, type StrategyStatus } from './node-status.ts';
import type { Notifier } from './notify.ts';
import { JournalWatcher } from './watcher.ts';

export interface ObservedStrategy {
  id: string;
  y: string;
  x: string;
  bar: string;
  entryZ: number;
  exitZ: number;
  stopZ: number;
  /** Warm-up bars expected until the node reports its own count (`warmup` events). */
  warmupBars: number;
  /** The strategy's parameters, kept in the status record so `tandem report` can replay the bars. */
  params?: Record<string, unknown>;
}

export interface RunObserverOptions {
  journalFile: string;
  mode: string;
  account: string | null;
  strategies: ObservedStrategy[];
  logger?: Logger;
  metrics?: NodeMetrics;
  notifier?: Notifier;
  /** Where decision/order/fill lines go (e.g. process.stderr), and how. */
  lines?: { write: (text: string) => void; render: RenderOptions };
  /** Status writes at most this often outside bar events (heartbeat). */
  heartbeatMs?: number;
  /** A heartbeat line is printed when no line was printed for this long (default 60 s). */
  quietLineMs?: number;
  pacingQueue?: () => number;
}

export class RunObserver {
  readonly status: NodeStatus;
  private watcher: JournalWatcher | null = null;
  private reader: JournalReader | null = null;
  private readonly logger: Logger;
  private readonly timer: NodeJS.Timeout;
  private readonly lastClose = new Map<string, number>();
  /** The account's reasons and each strategy's own (from `trading-state` events). */
  private accountReasons: TradingReason[] = [];
  private readonly strategyReasons = new Map<string, TradingReason[]>();
  private started = false;
  private stopping: StopReason | null = null;

  constructor(private readonly o: RunObserverOptions) {
    this.logger = o.logger ?? silentLogger;
    this.status = emptyStatus(o.mode, o.account);
    for (const s of o.strategies) {
      const st: StrategyStatus = {
        id: s.id, y: s.y, x: s.x, bar: s.bar, thresholds: { entry: s.entryZ, exit: s.exitZ, stop: s.stopZ },
        warmup: { have: 0, need: s.warmupBars }, lastBar: null, z: [],
        ...(s.params ? { params: s.params } : {}),
      };
      this.status.strategies[s.id] = st;
    }
    // Session and halts come from the node's events: metrics and alerts take those, not the incidents.
    o.metrics?.followNode();
    o.notifier?.followNode();
    this.flush();
    this.timer = setInterval(() => this.tick(), o.heartbeatMs ?? 5_000);
    this.timer.unref();
  }

  private get firstId(): string {
    return this.o.strategies[0]?.id ?? 'default';
  }

  /** The journal watcher (created once the journal exists; the node creates it at start). */
  journalWatcher(): JournalWatcher | null {
    if (this.watcher) return this.watcher;
    try {
      this.reader = new JournalReader(this.o.journalFile, this.firstId);
    } catch {
      return null;
    }
    const w = new JournalWatcher(this.reader, { pollMs: 1_000 }).start();
    this.watcher = w;
    this.o.metrics?.attachWatcher(w);
    this.o.notifier?.attachWatcher(w);
    if (this.o.lines) this.printLinesFrom(w, this.o.lines);
    return w;
  }

  /**
   * The engine journals a decision after its orders went out (off the latency path), so order and
   * fill rows can be read before the decision that caused them. Their lines are held until the
   * decision's line is printed (or 30 s passed), so a trader reads why before what.
   */
  private printLinesFrom(w: JournalWatcher, out: NonNullable<RunObserverOptions['lines']>): void {
    const print = (l: TradeLine): void => {
      this.lastLineAt = Date.now();
      out.write(`${renderLine(l, out.render)}\n`);
    };
    const decided: string[] = [];
    const intentOf = new Map<string, string>();
    const keyOf = (strategy: string, intentId: string | undefined): string | null => {
      const m = intentId ? /^(?:enter|close)-(\d+)$/.exec(intentId) : null;
      return m ? `${strategy}|${m[1]}` : null;
    };
    const printOrHold = (l: TradeLine, intentId: string | undefined): void => {
      const k = keyOf(l.strategy, intentId);
      if (k === null || decided.includes(k)) return print(l);
      const h = this.held.get(k) ?? { since: Date.now(), lines: [] };
      h.lines.push(l);
      this.held.set(k, h);
    };
    this.flushHeld = (olderThanMs: number): void => {
      for (const [k, h] of this.held) {
        if (Date.now() - h.since < olderThanMs) continue;
        this.held.delete(k);
        h.lines.forEach(print);
      }
    };
    w.on('bars', (bars) => {
      for (const b of bars) this.lastClose.set(b.symbol, b.close);
    });
    w.on('decision', (d) => {
      print(decisionLine(this.decisionInfo(d)));
      const k = `${d.strategyId}|${d.barTime}`;
      decided.push(k);
      if (decided.length > 1000) decided.shift();
      const h = this.held.get(k);
      if (h) {
        this.held.delete(k);
        h.lines.forEach(print);
      }
    });
    w.on('order', (o) => {
      intentOf.set(o.cOID, o.intentId);
      if (intentOf.size > 5000) intentOf.delete(intentOf.keys().next().value!);
      printOrHold(orderLine({ strategy: o.strategyId, time: o.updatedAt, cOID: o.cOID, leg: o.leg, symbol: o.symbol, side: o.side, qty: o.quantity, cashQty: o.cashQty, orderType: o.orderType, state: o.state }), o.intentId);
    });
    w.on('fill', (f) => printOrHold(fillLine({ strategy: f.strategyId, time: f.time, cOID: f.cOID, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission }), f.cOID ? intentOf.get(f.cOID) : undefined));
  }

  private readonly held = new Map<string, { since: number; lines: TradeLine[] }>();
  private flushHeld: (olderThanMs: number) => void = () => undefined;

  private decisionInfo(d: ReaderDecision): Parameters<typeof decisionLine>[0] {
    const s = this.status.strategies[d.strategyId] ?? Object.values(this.status.strategies)[0];
    const detail = d.detail ?? {};
    if (d.action === 'refused') {
      return { strategy: d.strategyId, time: d.barTime, action: 'refused', side: null, reason: 'risk-refused', z: null, hedgeRatio: null, legs: [], note: String(detail.reason ?? '') };
    }
    const dec = detail.decision as { action?: string; side?: 'LONG' | 'SHORT'; reason?: string; orders?: { leg: string; side: 'BUY' | 'SELL'; qty: number }[] } | undefined;
    const sym = (leg: string): string => (leg === 'y' ? s?.y : s?.x) ?? leg;
    return {
      strategy: d.strategyId, time: d.barTime,
      action: dec?.action === 'close' ? 'close' : 'enter',
      side: dec?.side ?? null,
      reason: dec?.action === 'close' ? reasonWord(dec.reason ?? 'exit') : 'entry',
      z: typeof detail.z === 'number' ? detail.z : null,
      hedgeRatio: typeof detail.beta === 'number' ? detail.beta : null,
      legs: (dec?.orders ?? []).map((l) => ({ symbol: sym(l.leg), side: l.side, qty: l.qty, price: this.lastClose.get(sym(l.leg)) ?? null })),
    };
  }

  /** Feed every node event here (`strategyId`: the strategy of an event that names none, e.g. a legacy one). */
  onEvent(e: NodeEvent, strategyId?: string): void {
    const sid = strategyId ?? ('strategyId' in e && e.strategyId !== null ? e.strategyId : this.firstId);
    const s = this.status.strategies[sid];
    switch (e.type) {
      case 'bar':
        if (!s) break;
        if (e.decisionLatencyMs !== undefined) this.observeDecisionLatency(sid, e.decisionLatencyMs);
        s.lastBar = { time: e.time, closes: e.closes, z: e.z, position: e.position, equity: e.equity };
        s.z.push([e.time, e.z]);
        if (s.z.length > MAX_Z_POINTS) s.z.splice(0, s.z.length - MAX_Z_POINTS);
        this.flush();
        break;
      case 'started':
        this.started = true;
        this.setSession('up', null, e.time);
        this.applyTradingState();
        break;
      case 'session':
        this.setSession(e.state, e.reason, e.time);
        break;
      case 'trading-state':
        if (e.strategyId === null) this.accountReasons = e.reasons;
        else this.strategyReasons.set(e.strategyId, e.reasons);
        this.applyTradingState();
        break;
      case 'warmup': {
        const first = s !== undefined && !this.warmupReported.has(sid);
        this.warmupReported.add(sid);
        if (s) s.warmup = { have: e.have, need: e.need };
        this.flush();
        // Said at once (not after a quiet minute) when the node starts still warming up.
        if (first && e.have < e.need) this.printHeartbeat(`${sid}: ${warmupText(e.have, e.need)}`);
        break;
      }
      case 'market':
        if (s) s.market = { open: e.open, marketTime: e.marketTime, nextOpen: e.nextOpen };
        this.flush();
        // A market that closes (or is closed at start) is said at once: the node will be quiet until it opens.
        if (!e.open) this.printHeartbeat(`${sid}: ${closedUntilText(e.nextOpen)}`);
        break;
      case 'stopping':
        this.stopping = e.reason;
        break;
      default:
        break;
    }
    this.o.metrics?.onNodeEvent(e);
    this.o.notifier?.onNodeEvent(e);
    this.journalWatcher()?.poke();
  }

  private setSession(state: SessionState, reason: string | null, at: number): void {
    const cur = this.status.session;
    if (cur.state !== state) this.status.session = { ...cur, state, since: at, reason, drops: cur.drops + (state === 'down' ? 1 : 0), relogins: cur.relogins + (state === 'up' && cur.state === 'down' ? 1 : 0) };
    this.flush();
  }

  /**
   * The account's trading state and each strategy's (the stricter of the account's and its own),
   * from the reasons the node reported. A shutdown is not a halt: the record says `stopped` at the
   * end instead. Before the node said it started, an active account is still `starting`.
   */
  private applyTradingState(): void {
    const account = strictest(this.accountReasons);
    if (this.started || account.state !== 'active') this.status.trading = account;
    for (const [id, st] of Object.entries(this.status.strategies)) {
      const own = strictest([...this.accountReasons, ...(this.strategyReasons.get(id) ?? [])]);
      st.trading = this.started || own.state !== 'active' ? own : { state: 'starting', reason: null };
    }
    this.flush();
  }

  observeDecisionLatency(strategyId: string, ms: number): void {
    this.o.metrics?.observeDecisionLatency(strategyId, ms);
  }

  private lastLineAt = Date.now();
  private readonly warmupReported = new Set<string>();

  private printHeartbeat(text: string): void {
    if (!this.o.lines) return;
    this.lastLineAt = Date.now();
    this.o.lines.write(`${renderLine(heartbeatLine('node', Date.now(), text), this.o.lines.render)}\n`);
  }

  /** Every few seconds: the heartbeat record, and a heartbeat line when nothing was printed for a minute. */
  private tick(): void {
    this.journalWatcher();
    this.flushHeld(30_000);
    const now = Date.now();
    const notes: string[] = [];
    for (const s of this.o.strategies) {
      const st = this.status.strategies[s.id]!;
      // What the node reported: its warm-up count and whether its market is open.
      if (st.warmup.have < st.warmup.need) notes.push(`${s.id}: ${warmupText(st.warmup.have, st.warmup.need)}`);
      if (st.market && !st.market.open) notes.push(`${s.id}: ${closedUntilText(st.market.nextOpen)}`);
    }
    this.status.heartbeat = notes.length ? notes.join('; ') : null;
    this.flush();
    if (this.o.lines && now - this.lastLineAt >= (this.o.quietLineMs ?? 60_000)) {
      this.lastLineAt = now;
      const text = this.status.heartbeat ?? `all quiet: ${Object.values(this.status.strategies).map((s) => `${s.id} ${s.lastBar ? `z=${s.lastBar.z?.toFixed(2) ?? 'n/a'} ${s.lastBar.position}` : 'no bar yet'}`).join(', ')}`;
      this.o.lines.write(`${renderLine(heartbeatLine('node', now, text), this.o.lines.render)}\n`);
    }
  }

  private flush(): void {
    this.status.updatedAt = Date.now();
    if (this.o.pacingQueue) this.status.pacing.queue = this.o.pacingQueue();
    try {
      writeNodeStatus(this.o.journalFile, this.status);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'node status not written');
    }
  }

  /** The final record (stopped, with the reason) and the watchers stopped. */
  private closed = false;

  async close(stopReason: string | null): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.watcher?.poke();
    this.flushHeld(0);
    this.watcher?.stop();
    // A risk halt (kill switch, daily loss, ...) stays in the record; otherwise the node stopped, and why.
    const riskHalt = strictest(this.accountReasons.filter((r) => r.kind === 'risk'));
    this.status.trading = riskHalt.state === 'halted' ? riskHalt : { state: 'stopped', reason: stopReason ?? this.stopping };
    this.status.stoppedAt = Date.now();
    this.flush();
    await this.o.notifier?.close();
    this.reader?.close();
  }
}

/** The strictest state among reasons that are not the node's own shutdown, and the reasons that impose it. */
function strictest(reasons: TradingReason[]): { state: 'active' | 'reducing' | 'halted'; reason: string | null } {
  const counted = reasons.filter((r) => r.kind !== 'shutdown' && r.state !== 'active');
  const state = counted.some((r) => r.state === 'halted') ? 'halted' : counted.length ? 'reducing' : 'active';
  const why = counted.filter((r) => r.state === state).map((r) => r.reason);
  return { state, reason: why.length ? why.join(', ') : null };
}
