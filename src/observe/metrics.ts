/**
 * Prometheus metrics of a node (prom-client), served at /metrics by the dashboard server.
 *
 * One registry per node (not prom-client's global one), so tests and a process with two servers do
 * not share counters. Who feeds what:
 * - gateway requests by endpoint and status, and 429s: `watchGatewayRequests(origin)` listens to
 *   undici's diagnostics channels, so the IBKR client needs no change (only requests to the
 *   gateway's origin count; webhooks and Telegram do not);
 * - pacing queue length: `watchPacingQueue(() => client.pacer.pending)`, read at scrape time;
 * - fills, orders by state, equity per strategy: `attachWatcher(watcher)` (from the journal);
 * - session up, drops and re-logins, halted: the node's typed events (`onNodeEvent`) when the node
 *   runs in this process (`followNode()`); otherwise (a dashboard following a journal written
 *   elsewhere) what the journal's incidents and the node's status record say;
 * - decision latency: `observeDecisionLatency(strategy, ms)`, called by the node per decision.
 */
import diagnostics from 'node:diagnostics_channel';
import client from 'prom-client';
import type { NodeEvent } from '../engine/events.ts';
import type { JournalWatcher } from './watcher.ts';

/** Bounded label values: account ids, conids and order ids in paths (segments with 3+ digits) become `:id`. */
export function endpointLabel(path: string): string {
  const p = path.split('?')[0] ?? '';
  return p.split('/').map((seg) => ((seg.match(/\d/g)?.length ?? 0) >= 3 ? ':id' : seg)).join('/') || '/';
}

interface UndiciRequest { origin?: string | URL; path?: string; method?: string }

export class NodeMetrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'endpoint' | 'method' | 'status'>;
  readonly rateLimited: client.Counter<'endpoint'>;
  readonly pacingQueue: client.Gauge;
  readonly decisionLatency: client.Histogram<'strategy'>;
  readonly orders: client.Gauge<'state'>;
  readonly fills: client.Counter<'strategy' | 'side'>;
  readonly sessionDrops: client.Counter;
  readonly relogins: client.Counter;
  readonly equity: client.Gauge<'strategy'>;
  readonly sessionUp: client.Gauge;
  readonly halted: client.Gauge;
  private queueProbe: (() => number) | null = null;
  /** Session and halts from the node's events (true) or from the journal (false). */
  private nodeEvents = false;
  private sessionDown = false;
  private readonly cleanups: (() => void)[] = [];

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'tandem_' });
    this.requests = new client.Counter({ name: 'tandem_gateway_requests_total', help: 'Requests to the Client Portal gateway by endpoint and HTTP status', labelNames: ['endpoint', 'method', 'status'], registers });
    this.rateLimited = new client.Counter({ name: 'tandem_gateway_rate_limited_total', help: 'Gateway answers with HTTP 429 (pacing violations)', labelNames: ['endpoint'], registers });
    const probe = (): number | null => (this.queueProbe ? this.queueProbe() : null);
    this.pacingQueue = new client.Gauge({
      name: 'tandem_pacing_queue_length', help: 'Requests waiting in the pacer for their turn', registers,
      collect() {
        const n = probe();
        if (n !== null) this.set(n);
      },
    });
    this.decisionLatency = new client.Histogram({
      name: 'tandem_decision_latency_seconds', help: 'Closing tick received to decision made (or first order handed to the broker)', labelNames: ['strategy'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    });
    this.orders = new client.Gauge({ name: 'tandem_orders', help: 'Orders in the journal by state', labelNames: ['state'], registers });
    this.fills = new client.Counter({ name: 'tandem_fills_total', help: 'Fills journalled since this process started watching', labelNames: ['strategy', 'side'], registers });
    this.sessionDrops = new client.Counter({ name: 'tandem_session_drops_total', help: 'Brokerage session or stream lost (session-down incidents)', registers });
    this.relogins = new client.Counter({ name: 'tandem_session_relogins_total', help: 'Sessions restored after a drop (session-up incidents)', registers });
    this.equity = new client.Gauge({ name: 'tandem_equity', help: 'Latest equity per strategy (account currency)', labelNames: ['strategy'], registers });
    this.sessionUp = new client.Gauge({ name: 'tandem_session_up', help: '1 when the brokerage session is up, 0 when down', registers });
    this.halted = new client.Gauge({ name: 'tandem_trading_halted', help: '1 when trading is halted (kill switch, daily loss)', registers });
  }

  /** The node runs in this process: its events, not the journal's incidents, say session and halts. */
  followNode(): void {
    this.nodeEvents = true;
  }

  /** A node event: session down/up (drops, re-logins, up gauge) and the account's trading state. */
  onNodeEvent(e: NodeEvent): void {
    if (!this.nodeEvents) return;
    if (e.type === 'session' || e.type === 'started') {
      const down = e.type === 'session' && e.state === 'down';
      if (down && !this.sessionDown) this.sessionDrops.inc();
      if (!down && this.sessionDown) this.relogins.inc();
      this.sessionDown = down;
      this.sessionUp.set(down ? 0 : 1);
    } else if (e.type === 'trading-state' && e.strategyId === null) {
      this.halted.set(e.reasons.some((r) => r.kind !== 'shutdown' && r.state === 'halted') ? 1 : 0);
    }
  }

  observeDecisionLatency(strategy: string, ms: number): void {
    this.decisionLatency.observe({ strategy }, ms / 1000);
  }

  watchPacingQueue(probe: () => number): void {
    this.queueProbe = probe;
  }

  /** Counts every undici request to `origin` (the gateway) by endpoint and status. */
  watchGatewayRequests(origin: string): void {
    const want = new URL(origin).origin;
    const pending = new WeakMap<object, { endpoint: string; method: string }>();
    const onCreate = (msg: unknown): void => {
      const req = (msg as { request: UndiciRequest }).request;
      if (!req?.origin || new URL(String(req.origin)).origin !== want) return;
      pending.set(req, { endpoint: endpointLabel(req.path ?? '/'), method: req.method ?? 'GET' });
    };
    const onHeaders = (msg: unknown): void => {
      const m = msg as { request: UndiciRequest; response: { statusCode: number } };
      const info = pending.get(m.request);
      if (!info) return;
      this.requests.inc({ endpoint: info.endpoint, method: info.method, status: String(m.response.statusCode) });
      if (m.response.statusCode === 429) this.rateLimited.inc({ endpoint: info.endpoint });
    };
    const onError = (msg: unknown): void => {
      const info = pending.get((msg as { request: UndiciRequest }).request);
      if (info) this.requests.inc({ endpoint: info.endpoint, method: info.method, status: 'error' });
    };
    diagnostics.subscribe('undici:request:create', onCreate);
    diagnostics.subscribe('undici:request:headers', onHeaders);
    diagnostics.subscribe('undici:request:error', onError);
    this.cleanups.push(() => {
      diagnostics.unsubscribe('undici:request:create', onCreate);
      diagnostics.unsubscribe('undici:request:headers', onHeaders);
      diagnostics.unsubscribe('undici:request:error', onError);
    });
  }

  /** Fills, orders, session and equity from the journal the watcher follows. */
  attachWatcher(w: JournalWatcher): void {
    const refreshOrders = (): void => {
      const counts = new Map<string, number>();
      for (const o of w.reader.orders()) counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
      this.orders.reset();
      for (const [state, n] of counts) this.orders.set({ state }, n);
    };
    refreshOrders();
    for (const e of w.reader.latestEquity()) this.equity.set({ strategy: e.strategyId }, e.equity);
    w.on('order', refreshOrders);
    w.on('fill', (f) => this.fills.inc({ strategy: f.strategyId, side: f.side }));
    w.on('equity', (e) => this.equity.set({ strategy: e.strategyId }, e.equity));
    if (this.nodeEvents) return;
    const h0 = w.health;
    this.sessionUp.set(h0.session.state === 'down' ? 0 : 1);
    this.halted.set(h0.trading.state === 'halted' ? 1 : 0);
    w.on('incident', (i) => {
      if (i.kind === 'session-down') this.sessionDrops.inc();
      if (i.kind === 'session-up') this.relogins.inc();
    });
    w.on('health', (h) => {
      this.sessionUp.set(h.session.state === 'down' ? 0 : 1);
      this.halted.set(h.trading.state === 'halted' ? 1 : 0);
    });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const c of this.cleanups.splice(0)) c();
  }
}
