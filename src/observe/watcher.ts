/**
 * Follows a journal while its node writes it: every poll reads the rows added since the last one
 * (fills, order state changes, decisions, incidents, bars, equity points) and hands them to the
 * listeners — the metrics, the alerts and the dashboard. Session and trading state: the node status
 * record while the node writes it (its observer fills it from the node's typed events); only when
 * no fresh record exists (the node stopped or crashed) are they inferred from the incidents
 * (session-down/up, kill switch, daily loss).
 *
 * Why poll the journal rather than only listen to the node's events: the same code then serves a
 * node in this process (`tandem run --dashboard`, where `poke()` after each engine event makes it
 * immediate) and a node in another process (`tandem dashboard --journal ...`), and it sees exactly
 * what was made durable, nothing the node only meant to do.
 */
import { EventEmitter } from 'node:events';
import type { JournalReader, ReaderBar, ReaderDecision, ReaderEquity, ReaderFill, ReaderIncident, ReaderOrder } from './journal-reader.ts';
import { isStale, readNodeStatus, type NodeStatus, type SessionState, type TradingState } from './node-status.ts';

export interface Health {
  session: { state: SessionState | 'unknown'; since: number | null; reason: string | null; drops: number; relogins: number };
  trading: { state: TradingState | 'unknown'; reason: string | null };
  /** The node writes a fresh status record (heartbeat). */
  nodeRunning: boolean;
  status: NodeStatus | null;
}

export interface WatcherEvents {
  fill: [ReaderFill];
  order: [ReaderOrder];
  decision: [ReaderDecision];
  incident: [ReaderIncident];
  bars: [ReaderBar[]];
  equity: [ReaderEquity];
  health: [Health];
}

const HALT_KINDS = new Set(['kill-switch', 'daily-loss', 'halt']);

export class JournalWatcher extends EventEmitter<WatcherEvents> {
  private cursor = { fills: 0, orderEvents: 0, decisions: 0, incidents: 0, bars: 0, equity: 0 };
  private timer: NodeJS.Timeout | null = null;
  private incidentSession: Health['session'] = { state: 'unknown', since: null, reason: null, drops: 0, relogins: 0 };
  private incidentHalt: { reason: string; time: number } | null = null;
  private lastHealthKey = '';
  health: Health = { session: { ...this.incidentSession }, trading: { state: 'unknown', reason: null }, nodeRunning: false, status: null };

  constructor(
    readonly reader: JournalReader,
    private readonly opts: { pollMs?: number; now?: () => number } = {},
  ) {
    super();
    // Past incidents set the starting health; past rows are not replayed as events.
    for (const i of reader.incidents()) this.applyIncident(i);
    const c = reader.counts();
    this.cursor = { fills: c.fills, orderEvents: c.orderEvents, decisions: c.decisions, incidents: c.incidents, bars: c.bars, equity: c.equity };
    this.refreshHealth();
  }

  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 1_000);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads now (after an engine event in this process, so listeners see it at once). */
  poke(): void {
    this.poll();
  }

  private applyIncident(i: ReaderIncident): void {
    const s = this.incidentSession;
    if (i.kind === 'session-down') {
      s.drops++;
      if (s.state !== 'down') s.since = i.time;
      s.state = 'down';
      s.reason = typeof i.detail?.reason === 'string' ? i.detail.reason : null;
    } else if (i.kind === 'session-up') {
      s.relogins++;
      s.state = 'up';
      s.since = i.time;
      s.reason = null;
    } else if (HALT_KINDS.has(i.kind)) {
      this.incidentHalt = { reason: i.kind, time: i.time };
    }
  }

  poll(): void {
    const r = this.reader;
    if (!r.isOpen) return;
    try {
      for (const i of r.incidents(this.cursor.incidents)) {
        this.cursor.incidents = i.id;
        this.applyIncident(i);
        this.emit('incident', i);
      }
      const events = r.orderEvents(this.cursor.orderEvents);
      if (events.length) {
        this.cursor.orderEvents = events[events.length - 1]!.id;
        const changed = new Set(events.map((e) => e.cOID));
        for (const o of r.orders().filter((x) => changed.has(x.cOID))) this.emit('order', o);
      }
      for (const f of r.fills({ afterRowid: this.cursor.fills })) {
        this.cursor.fills = Math.max(this.cursor.fills, f.rowid);
        this.emit('fill', f);
      }
      for (const d of r.decisions(this.cursor.decisions)) {
        this.cursor.decisions = d.id;
        this.emit('decision', d);
      }
      const bars = r.bars({ afterRowid: this.cursor.bars, includeWarmup: true });
      if (bars.length) {
        this.cursor.bars = Math.max(...bars.map((b) => b.rowid));
        this.emit('bars', bars);
      }
      for (const e of r.equity({ afterRowid: this.cursor.equity })) {
        this.cursor.equity = e.rowid;
        this.emit('equity', e);
      }
    } catch {
      // A read can fail while the node checkpoints or is being replaced; the next poll retries.
    }
    this.refreshHealth();
  }

  /** Session and trading state: the node's own record when fresh (from its typed events), else what the incidents imply. */
  private refreshHealth(): void {
    const now = this.opts.now?.() ?? Date.now();
    const status = readNodeStatus(this.reader.file);
    const fresh = status !== null && !isStale(status, now);
    const s = this.incidentSession;
    let session: Health['session'] = { ...s };
    let trading: Health['trading'];
    if (fresh) {
      session = { ...status.session, drops: Math.max(status.session.drops, s.drops), relogins: Math.max(status.session.relogins, s.relogins) };
      trading = { ...status.trading };
    } else {
      const lastStop = this.reader.meta('lastStop');
      trading = this.incidentHalt
        ? { state: 'halted', reason: this.incidentHalt.reason }
        : lastStop ? { state: 'stopped', reason: safeReason(lastStop) } : { state: 'unknown', reason: status ? 'node status is stale (node not running?)' : null };
    }
    this.health = { session, trading, nodeRunning: fresh, status };
    const key = JSON.stringify([session, trading, fresh]);
    if (key !== this.lastHealthKey) {
      this.lastHealthKey = key;
      this.emit('health', this.health);
    }
  }
}

function safeReason(text: string): string | null {
  try {
    return String((JSON.parse(text) as { reason?: unknown }).reason ?? null);
  } catch {
    return null;
  }
}

/** Whether a health check should pass: session up (or not known to be down) and trading not halted. */
export function healthy(h: Health): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (h.session.state === 'down') reasons.push(`session down since ${h.session.since ? new Date(h.session.since).toISOString() : '?'}${h.session.reason ? ` (${h.session.reason})` : ''}`);
  if (h.trading.state === 'halted') reasons.push(`trading halted (${h.trading.reason ?? 'unknown reason'})`);
  return { ok: reasons.length === 0, reasons };
}
