/**
 * Alerts: the events a trader wants on the phone — fills, halts (kill switch, daily loss), legging
 * failures, a brokerage session lost for more than N minutes, positions at the broker that no
 * strategy traded — sent to a generic webhook (one JSON POST per alert) and/or a Telegram bot.
 *
 * Fills, legging failures and foreign positions come from the journal (a `JournalWatcher`), so those
 * alerts report what was made durable. Halts and the session come from the node's typed events
 * (`trading-state`, `session`) when the node runs in this process (`followNode()`); a notifier that
 * only follows a journal infers them from its incidents. Sending never blocks or fails the
 * node: each target gets one retry, then a warning without the target's URL or token. The Telegram
 * token is read from .env (the variable `notify.telegram.tokenEnv` names) and registered as a secret
 * with the logger, so neither a log line nor an error message can carry it.
 */
import { request } from 'undici';
import type { AlertKind, EngineConfig } from '../config/engine-schema.ts';
import type { Env } from '../config/env.ts';
import { registerSecret, silentLogger, type Logger } from '../log/logger.ts';
import { UserError } from '../util/errors.ts';
import type { NodeEvent, TradingReason } from '../engine/events.ts';
import type { ReaderFill, ReaderIncident } from './journal-reader.ts';
import type { JournalWatcher } from './watcher.ts';

export type NotifyConfig = EngineConfig['notify'];

export interface Alert {
  kind: AlertKind;
  time: number;
  strategy: string | null;
  /** One human line (also the Telegram message). */
  text: string;
  data: Record<string, unknown>;
}

interface Target {
  name: 'webhook' | 'telegram';
  events: Set<AlertKind>;
  send(a: Alert): Promise<void>;
}

const HALT_INCIDENTS = new Set(['kill-switch', 'daily-loss', 'halt']);
const LEGGING_INCIDENTS = new Set(['legging', 'flatten-incomplete']);
const FOREIGN_INCIDENTS = new Set(['foreign-position', 'foreign-positions']);

async function postJson(url: string, body: unknown, timeoutMs: number): Promise<void> {
  const res = await request(url, {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' },
    headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
}

export class Notifier {
  private readonly targets: Target[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Alerts handed to a target (for tests and the run's summary). */
  sent = 0;
  failed = 0;
  /** Session and halts from the node's events (true) or from the journal's incidents (false). */
  private nodeEvents = false;
  /** Risk halts already alerted, per scope ('' = account): alerted once each until cleared. */
  private readonly halts = new Map<string, Set<string>>();
  private session: { down: boolean; since: number; reason: string | null } = { down: false, since: 0, reason: null };
  private sessionTimer: NodeJS.Timeout | null = null;

  constructor(private readonly cfg: NotifyConfig, env: Env, private readonly logger: Logger = silentLogger, private readonly timeoutMs = 10_000) {
    const all = new Set(cfg.events);
    if (cfg.webhook) {
      const url = cfg.webhook.url;
      // A webhook URL often is the secret (Slack, Discord): never print it.
      registerSecret(url);
      this.targets.push({
        name: 'webhook', events: new Set(cfg.webhook.events ?? all),
        send: (a) => postJson(url, { source: 'tandem', kind: a.kind, time: new Date(a.time).toISOString(), strategy: a.strategy, text: a.text, data: a.data }, this.timeoutMs),
      });
    }
    if (cfg.telegram) {
      const t = cfg.telegram;
      const token = env[t.tokenEnv]?.trim();
      if (!token) throw new UserError(`notify.telegram is set but ${t.tokenEnv} is not. Fix: add ${t.tokenEnv}=<bot token from @BotFather> to .env (never to a config file).`, 'TANDEM_CONFIG_INVALID');
      registerSecret(token);
      const url = `${t.apiUrl.replace(/\/$/, '')}/bot${token}/sendMessage`;
      this.targets.push({
        name: 'telegram', events: new Set(t.events ?? all),
        send: (a) => postJson(url, { chat_id: t.chatId, text: `Tandem ${a.kind}: ${a.text}`, disable_web_page_preview: true }, this.timeoutMs),
      });
    }
  }

  get enabled(): boolean {
    return this.targets.length > 0;
  }

  /** Sends to every target that wants this kind; resolves when all tried (never rejects). */
  send(a: Alert): Promise<void> {
    const p = Promise.all(this.targets.filter((t) => t.events.has(a.kind)).map(async (t) => {
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          await t.send(a);
          this.sent++;
          return;
        } catch (err) {
          if (attempt === 2) {
            this.failed++;
            // The error's text may hold the URL (and so the token): only its code is logged.
            this.logger.warn({ target: t.name, kind: a.kind, code: (err as { code?: string }).code ?? (err as Error).message.slice(0, 40) }, 'alert not delivered');
          } else {
            await new Promise((r) => setTimeout(r, 1_000));
          }
        }
      }
    })).then(() => undefined);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** The node runs in this process: halts and the session are taken from its events (`onNodeEvent`). */
  followNode(): void {
    this.nodeEvents = true;
  }

  /**
   * A node event: a risk halt (kill switch, daily loss, naked leg, positions in doubt; not a lost
   * session or a shutdown) alerts once per reason and scope; a session down for longer than
   * `sessionLostMinutes` alerts once per drop.
   */
  onNodeEvent(e: NodeEvent): void {
    if (!this.nodeEvents) return;
    if (e.type === 'trading-state') {
      const scope = e.strategyId ?? '';
      const seen = this.halts.get(scope) ?? new Set<string>();
      const now = new Set<string>();
      for (const r of e.reasons) {
        if (r.kind !== 'risk' || r.state !== 'halted') continue;
        now.add(r.reason);
        if (!seen.has(r.reason)) void this.send(haltAlert(e.strategyId, r, e.reasons, e.time));
      }
      this.halts.set(scope, now);
    } else if (e.type === 'session' && e.state === 'down') {
      if (this.session.down) return;
      this.session = { down: true, since: e.time, reason: e.reason };
      const drop = this.session;
      this.sessionTimer = setTimeout(() => {
        if (this.sessionTimer) this.timers.delete(this.sessionTimer);
        this.sessionTimer = null;
        if (this.session === drop) this.sendSessionLost(drop, Date.now());
      }, Math.max(0, drop.since + this.cfg.sessionLostMinutes * 60_000 - Date.now()));
      this.timers.add(this.sessionTimer);
    } else if ((e.type === 'session' && e.state === 'up') || e.type === 'started') {
      const drop = this.session;
      this.session = { down: false, since: e.time, reason: null };
      if (this.sessionTimer) {
        clearTimeout(this.sessionTimer);
        this.timers.delete(this.sessionTimer);
        this.sessionTimer = null;
        // The drop outlasted the limit but its timer had not run yet (a busy event loop runs timers
        // late, after the I/O that brought the session back): it still was a drop that long.
        if (drop.down && e.time - drop.since >= this.cfg.sessionLostMinutes * 60_000) this.sendSessionLost(drop, e.time);
      }
    }
  }

  private sendSessionLost(drop: { since: number; reason: string | null }, now: number): void {
    const mins = Math.round((now - drop.since) / 6_000) / 10;
    void this.send({ kind: 'session-lost', time: now, strategy: null, text: `brokerage session down for ${mins} min${drop.reason ? ` (${drop.reason})` : ''}: no decisions are made until it is back`, data: { since: drop.since, reason: drop.reason } });
  }

  /** Alerts from the journal: fills, legging, foreign positions; halts and session lost > N minutes unless the node's events say those. */
  attachWatcher(w: JournalWatcher): void {
    w.on('fill', (f) => void this.send(fillAlert(f)));
    w.on('incident', (i) => {
      const kind: AlertKind | null = HALT_INCIDENTS.has(i.kind) && !this.nodeEvents ? 'halt' : LEGGING_INCIDENTS.has(i.kind) ? 'legging' : FOREIGN_INCIDENTS.has(i.kind) ? 'foreign-position' : null;
      if (kind) void this.send(incidentAlert(kind, i));
    });
    if (this.nodeEvents) return;
    const limitMs = this.cfg.sessionLostMinutes * 60_000;
    let pending: NodeJS.Timeout | null = null;
    /** The drop the pending timer is for. */
    let drop: { since: number; reason: string | null } | null = null;
    /** The drop already alerted (its start): one alert per drop. */
    let alerted: number | null = null;
    const alert = (d: { since: number; reason: string | null }, now: number): void => {
      alerted = d.since;
      this.sendSessionLost(d, now);
    };
    const arm = (since: number, reason: string | null): void => {
      if (pending || alerted === since) return;
      drop = { since, reason };
      pending = setTimeout(() => {
        this.timers.delete(pending!);
        pending = null;
        const h = w.health.session;
        if (h.state === 'down') alert({ since, reason: h.reason }, Date.now());
      }, Math.max(0, since + limitMs - Date.now()));
      this.timers.add(pending);
    };
    const onHealth = (): void => {
      const s = w.health.session;
      if (s.state === 'down') arm(s.since ?? Date.now(), s.reason);
      else if (pending) {
        clearTimeout(pending);
        this.timers.delete(pending);
        pending = null;
        // Back, but the drop outlasted the limit before its timer ran (a busy event loop).
        const upAt = s.since ?? Date.now();
        if (drop && upAt - drop.since >= limitMs) alert(drop, upAt);
      }
    };
    w.on('health', onHealth);
    onHealth();
  }

  /** Waits (bounded) for alerts still being sent, then stops timers. */
  async close(waitMs = 5_000): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}

export function fillAlert(f: ReaderFill): Alert {
  return {
    kind: 'fill', time: f.time, strategy: f.strategyId,
    text: `${f.strategyId}: ${f.side} ${f.qty} ${f.symbol} @ ${f.price.toFixed(2)} (commission ${f.commission.toFixed(2)})`,
    data: { execId: f.execId, cOID: f.cOID, symbol: f.symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission },
  };
}

function haltAlert(strategyId: string | null, r: TradingReason, all: TradingReason[], time: number): Alert {
  const scope = strategyId ?? 'account';
  return {
    kind: 'halt', time, strategy: strategyId,
    text: `trading halted (${strategyId ? `strategy ${strategyId}` : 'account'}): ${r.reason}`,
    data: { scope, reason: r.reason, reasons: all.map((x) => `${x.state}: ${x.reason}`) },
  };
}

function incidentAlert(kind: AlertKind, i: ReaderIncident): Alert {
  const what = kind === 'halt' ? `trading halted: ${i.kind}` : kind === 'legging' ? `legging failure (${i.kind})` : 'position at the broker that no strategy traded';
  return { kind, time: i.time, strategy: i.strategyId, text: `${what}${i.detail ? ` ${JSON.stringify(i.detail)}` : ''}`, data: { incident: i.kind, ...(i.detail ?? {}) } };
}
