/**
 * The websocket stream (`wss://host/v1/api/ws`, §8): market data (`smd`), live orders (`sor`).
 *
 *  - Authenticated the way IBKR documents it: the `session` token of `/tickle` as the cookie
 *    `api={"session":"…"}` on the upgrade (ibind's form) and as a first `{"session":"…"}` frame.
 *    Nothing is subscribed before the first `sts` frame says the session is authenticated: the
 *    gateway drops commands sent before its greeting. Each subscription is then confirmed by the
 *    first frame of its topic and re-sent until that arrives (ibind retries subscriptions the same
 *    way: Voyz/ibind ibind/base/subscription_controller.py, 5 attempts).
 *  - Frames may be text or binary; non-JSON frames (`ech+hb` echoes) are skipped.
 *  - Heartbeat: a `tic` is sent regularly; if no frame at all arrives for `heartbeatTimeoutMs`
 *    (the server sends `system` hb every ~10 s) the socket is considered dead and replaced.
 *  - `smd` subscriptions expire after 10 minutes since IBKR's 2026 change: they are re-sent every
 *    `renewMs` (default 9 minutes).
 *  - Reconnect with backoff; every subscription is re-sent (nothing is replayed by the server) and a
 *    `reconnected` event carries the outage window so the caller (the client does it by default)
 *    can fill the gap with a history request.
 *  - `smd` and `sor` frames carry only changed fields after the first: they are merged per conid /
 *    per orderId before being emitted. A merged quote is a TRADE only when this frame changed the
 *    last price (field 31, without a `C`/`H` prefix) or the cumulative volume grew; its size is the
 *    growth of the cumulative volume, never the repeated last size (`Quote.trade`).
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { FIELD, toQuote, type Quote, type Bar } from './market-data.ts';
import { normalizeSide, normalizeStatus, parseFormatted } from './decode.ts';
import type { LiveOrder } from './orders.ts';
import { fetchPinnedCertificate, type ResolvedTls } from './tls.ts';

export interface StreamEvents {
  open: [];
  close: [{ code: number; reason: string }];
  /** After a reconnect: subscriptions were re-sent; `from`/`to` bound the outage (epoch ms). */
  reconnected: [{ from: number; to: number; conids: number[] }];
  /** Bars that cover an outage, fetched after a reconnect. */
  gapFilled: [{ conid: number; from: number; to: number; bars: Bar[] }];
  marketData: [Quote];
  order: [LiveOrder];
  /** Brokerage session status pushed by the server (`sts`). */
  status: [{ authenticated?: boolean; competing?: boolean; connected?: boolean; message?: string }];
  /** Every JSON frame, for callers that want other topics. */
  message: [Record<string, unknown>];
  error: [Error];
}

export interface StreamOptions {
  /** API base, e.g. https://localhost:5000/v1/api. */
  baseUrl: string;
  tls: ResolvedTls;
  userAgent: string;
  /** Returns the session token (calls /tickle). */
  getToken: () => Promise<string | undefined>;
  /** Extra cookies to send (the REST cookie jar). */
  cookies?: () => string;
  logger?: Logger;
  /** Silence after which the socket is replaced; default 30 s. */
  heartbeatTimeoutMs?: number;
  /** Interval of `tic` pings; default 50 s. */
  ticIntervalMs?: number;
  /** Interval at which `smd` subscriptions are re-sent; default 9 min (they expire after 10). */
  renewMs?: number;
  /** A subscription without its first frame after this long is re-sent; default 2 s. */
  confirmMs?: number;
  /** Sends of one subscription before giving up on its confirmation; default 5. */
  confirmAttempts?: number;
  /** Longest wait for the first authenticated `sts` before subscribing anyway; default 10 s. */
  stsTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Fills an outage with bars; when set, `gapFilled` is emitted after each reconnect. */
  fillGap?: (conid: number, fromMs: number, toMs: number) => Promise<Bar[]>;
}

export class IbkrStream extends EventEmitter<StreamEvents> {
  private ws: WebSocket | undefined;
  private readonly log: Logger;
  private readonly smd = new Map<number, string[]>();
  private readonly quotes = new Map<number, Record<string, unknown>>();
  private readonly orders = new Map<number, Record<string, unknown>>();
  private ordersSubscribed = false;
  private tradesSubscribed = false;
  private closedByUser = false;
  private everOpened = false;
  private downSince: number | undefined;
  private lastFrameAt = 0;
  private attempts = 0;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pinnedCa: string | undefined;
  private connecting: Promise<void> | undefined;
  /** The first authenticated `sts` arrived on the current socket: subscriptions may be sent. */
  private ready = false;
  /** Subscriptions sent but not confirmed by a frame of their topic: key → command, sends, last send. */
  private readonly unconfirmed = new Map<string, { cmd: string; sends: number; at: number }>();

  constructor(private readonly opts: StreamOptions) {
    super();
    this.log = opts.logger ?? silentLogger;
    // 'error' without a listener would throw; errors are also logged.
    this.on('error', (err) => this.log.debug({ err: err.message }, 'stream error'));
  }

  get url(): string {
    const u = new URL(this.opts.baseUrl);
    u.protocol = u.protocol === 'http:' ? 'ws:' : 'wss:';
    u.pathname = `${u.pathname.replace(/\/$/, '')}/ws`;
    return u.toString();
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket (resolves when open). */
  connect(): Promise<void> {
    this.closedByUser = false;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  subscribeMarketData(conid: number, fields: string[]): void {
    this.smd.set(conid, fields);
    this.subscribe(`smd+${conid}`, `smd+${conid}+${JSON.stringify({ fields })}`);
  }

  unsubscribeMarketData(conid: number): void {
    this.smd.delete(conid);
    this.quotes.delete(conid);
    this.send(`umd+${conid}+{}`);
  }

  subscribeOrders(): void {
    this.ordersSubscribed = true;
    this.subscribe('sor', 'sor+{}');
  }

  /** Executions (`str`): frames arrive as `message` events with topic `str` (added for the engine). */
  subscribeTrades(): void {
    this.tradesSubscribed = true;
    this.subscribe('str', 'str+{}');
  }

  /** True once the first authenticated `sts` arrived on the current socket. */
  get isReady(): boolean {
    return this.ready && this.isOpen;
  }

  /** Topics subscribed but not yet confirmed by a frame (for diagnostics and tests). */
  get pendingSubscriptions(): string[] {
    return [...this.unconfirmed.keys()];
  }

  unsubscribeOrders(): void {
    this.ordersSubscribed = false;
    this.send('uor+{}');
  }

  /** Current merged order states from `sor`. */
  get orderStates(): LiveOrder[] {
    return [...this.orders.values()].map(toLiveOrder);
  }

  close(): void {
    this.closedByUser = true;
    this.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.ws?.removeAllListeners();
    this.ws?.on('error', () => undefined);
    this.ws?.terminate();
    this.ws = undefined;
  }

  /** Drops the socket as if the network failed (used by the watchdog; handy in tests). */
  dropConnection(): void {
    this.ws?.terminate();
  }

  private send(cmd: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(cmd);
  }

  /** Sends a subscription once the session is ready and tracks it until its first frame. */
  private subscribe(key: string, cmd: string): void {
    this.unconfirmed.set(key, { cmd, sends: 0, at: 0 });
    if (this.ready) this.sendSubscription(key);
  }

  private sendSubscription(key: string): void {
    const u = this.unconfirmed.get(key);
    if (!u || !this.ready) return;
    u.sends++;
    u.at = Date.now();
    this.send(u.cmd);
  }

  /** Re-sends subscriptions whose first frame has not come; gives up (loudly) after `confirmAttempts`. */
  private retryUnconfirmed(): void {
    if (!this.ready) return;
    const wait = this.opts.confirmMs ?? 2_000;
    const max = this.opts.confirmAttempts ?? 5;
    for (const [key, u] of this.unconfirmed) {
      if (Date.now() - u.at < wait) continue;
      if (u.sends >= max) {
        this.unconfirmed.delete(key);
        // `str` legitimately stays silent when there is no execution to replay.
        if (key !== 'str') this.log.warn({ topic: key, sends: u.sends }, 'websocket subscription never confirmed');
        continue;
      }
      this.log.debug({ topic: key, sends: u.sends }, 'websocket subscription not confirmed yet; re-sending');
      this.sendSubscription(key);
    }
  }

  /** The session is ready (first authenticated `sts`, or the wait for it ran out): send every subscription. */
  private onReady(why: string): void {
    if (this.ready) return;
    this.ready = true;
    this.log.debug({ why }, 'websocket session ready; subscribing');
    // Re-send every subscription: the server replays nothing after a reconnect (§8.13).
    for (const [conid, fields] of this.smd) this.unconfirmed.set(`smd+${conid}`, { cmd: `smd+${conid}+${JSON.stringify({ fields })}`, sends: 0, at: 0 });
    if (this.ordersSubscribed) this.unconfirmed.set('sor', { cmd: 'sor+{}', sends: 0, at: 0 });
    if (this.tradesSubscribed) this.unconfirmed.set('str', { cmd: 'str+{}', sends: 0, at: 0 });
    for (const key of this.unconfirmed.keys()) this.sendSubscription(key);
  }

  private async open(): Promise<void> {
    const token = await this.opts.getToken();
    if (!token) throw new Error('no session token from /tickle; is the gateway logged in?');
    const tlsOpts: Record<string, unknown> = {};
    const tls = this.opts.tls;
    if (tls.mode === 'fingerprint' && tls.fingerprint) {
      if (!this.pinnedCa) {
        const u = new URL(this.opts.baseUrl);
        this.pinnedCa = await fetchPinnedCertificate(u.hostname, Number(u.port || 443), tls.fingerprint, 10_000);
      }
      Object.assign(tlsOpts, { ca: this.pinnedCa, rejectUnauthorized: true, checkServerIdentity: () => undefined });
    } else {
      Object.assign(tlsOpts, { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca ? { ca: tls.ca } : {}) });
    }
    const cookie = [this.opts.cookies?.() ?? '', `api=${JSON.stringify({ session: token })}`].filter(Boolean).join('; ');
    const ws = new WebSocket(this.url, { headers: { 'User-Agent': this.opts.userAgent, Cookie: cookie }, skipUTF8Validation: true, ...tlsOpts });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(err));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`)));
    });
    ws.removeAllListeners('error');
    ws.on('error', (err) => this.emit('error', err));
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    this.lastFrameAt = Date.now();
    this.attempts = 0;
    this.ready = false;
    this.unconfirmed.clear();
    this.startTimers();
    const wasDown = this.downSince;
    const reconnect = this.everOpened;
    this.everOpened = true;
    this.downSince = undefined;
    // The session frame as well as the cookie (§8.1): harmless when the cookie was enough.
    this.send(JSON.stringify({ session: token }));
    const stsWait = setTimeout(() => {
      if (this.ws !== ws || this.ready) return;
      this.log.warn({ waitedMs: this.opts.stsTimeoutMs ?? 10_000 }, 'no authenticated sts on the websocket yet; subscribing anyway');
      this.onReady('sts timeout');
    }, this.opts.stsTimeoutMs ?? 10_000);
    stsWait.unref?.();
    this.timers.push(stsWait);
    this.emit('open');
    if (reconnect && wasDown !== undefined) {
      const gap = { from: wasDown, to: Date.now(), conids: [...this.smd.keys()] };
      this.emit('reconnected', gap);
      if (this.opts.fillGap) void this.fillGaps(gap);
    }
  }

  private async fillGaps(gap: { from: number; to: number; conids: number[] }): Promise<void> {
    for (const conid of gap.conids) {
      try {
        // Bars are aligned to minutes: start at the minute the outage began.
        const from = Math.floor(gap.from / 60_000) * 60_000;
        const bars = await this.opts.fillGap!(conid, from, gap.to);
        this.emit('gapFilled', { conid, from, to: gap.to, bars });
      } catch (err) {
        this.emit('error', err as Error);
      }
    }
  }

  private onFrame(data: WebSocket.RawData, _isBinary: boolean): void {
    this.lastFrameAt = Date.now();
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // `ech+hb` echo or other plain text
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return;
    const m = msg as Record<string, unknown>;
    this.emit('message', m);
    const topic = typeof m.topic === 'string' ? m.topic : '';
    const key = topic.startsWith('smd+') ? `smd+${topic.slice(4).split('@')[0]}` : topic;
    if (this.unconfirmed.delete(key)) this.log.debug({ topic: key }, 'websocket subscription confirmed');
    if (topic.startsWith('smd+')) this.onMarketData(m, topic);
    else if (topic === 'sor') this.onOrders(m);
    else if (topic === 'sts' && m.args && typeof m.args === 'object') {
      const st = m.args as StreamEvents['status'][0];
      if (st.authenticated === true) this.onReady('sts');
      this.emit('status', st);
    }
  }

  private onMarketData(m: Record<string, unknown>, topic: string): void {
    const conid = Number(m.conid ?? topic.slice(4).split('@')[0]);
    if (!Number.isInteger(conid)) return;
    const keys = Object.keys(m).filter((k) => k !== 'topic');
    if (keys.length === 0) return; // empty update
    const before = this.quotes.get(conid);
    const prev = before ? toQuote(before, conid) : undefined;
    const merged = { ...(before ?? {}), ...m };
    delete merged.topic;
    this.quotes.set(conid, merged);
    const q = toQuote(merged, conid);
    // A trade only when THIS frame moved the last price or the cumulative volume (frames carry only
    // changed fields; re-emitting the merged last as a trade invents trades and volume).
    const lastMoved = FIELD.last in m && (prev === undefined || prev.last !== q.last || prev.lastFlag !== q.lastFlag);
    const volumeGrew = q.volume !== undefined && prev?.volume !== undefined && q.volume > prev.volume;
    if ((lastMoved || volumeGrew) && q.last !== undefined && q.lastFlag === undefined) {
      const size = volumeGrew ? q.volume! - prev!.volume! : FIELD.lastSize in m ? q.lastSize : undefined;
      q.trade = { price: q.last, ...(size !== undefined ? { size } : {}), time: q.updatedAt ?? Date.now() };
    }
    this.emit('marketData', q);
  }

  private onOrders(m: Record<string, unknown>): void {
    if (!Array.isArray(m.args)) return;
    for (const row of m.args as Record<string, unknown>[]) {
      const id = Number(row?.orderId);
      if (!Number.isInteger(id)) continue;
      const merged = { ...(this.orders.get(id) ?? {}), ...row };
      this.orders.set(id, merged);
      this.emit('order', toLiveOrder(merged));
    }
  }

  private onClose(code: number, reason: string): void {
    this.clearTimers();
    this.ws = undefined;
    this.emit('close', { code, reason });
    if (this.closedByUser) return;
    this.downSince ??= Date.now();
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closedByUser || this.reconnectTimer) return;
    const base = this.opts.reconnectBaseMs ?? 1000;
    const delay = Math.min(this.opts.reconnectMaxMs ?? 30_000, base * 2 ** this.attempts);
    this.attempts++;
    this.log.info({ delayMs: delay }, 'websocket closed; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err: unknown) => {
        this.emit('error', err as Error);
        this.scheduleReconnect();
      });
    }, delay);
  }

  private startTimers(): void {
    this.clearTimers();
    const hb = this.opts.heartbeatTimeoutMs ?? 30_000;
    this.timers.push(
      setInterval(() => {
        if (Date.now() - this.lastFrameAt > hb) {
          this.log.warn({ silentMs: Date.now() - this.lastFrameAt }, 'websocket silent; replacing it');
          this.ws?.terminate();
        }
      }, Math.max(50, Math.min(5000, hb / 3))),
      setInterval(() => this.send('tic'), this.opts.ticIntervalMs ?? 50_000),
      setInterval(() => {
        for (const [conid, fields] of this.smd) this.send(`smd+${conid}+${JSON.stringify({ fields })}`);
      }, this.opts.renewMs ?? 9 * 60_000),
      setInterval(() => this.retryUnconfirmed(), Math.max(100, Math.min(1_000, (this.opts.confirmMs ?? 2_000) / 2))),
    );
    for (const t of this.timers) t.unref?.();
  }

  private clearTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

function toLiveOrder(r: Record<string, unknown>): LiveOrder {
  const num = (v: unknown) => parseFormatted(v).value;
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  return {
    orderId: Number(r.orderId),
    cOID: str(r.order_ref),
    account: str(r.acct ?? r.account),
    conid: r.conid === undefined ? undefined : Number(r.conid),
    ticker: str(r.ticker),
    side: normalizeSide(str(r.side)),
    status: normalizeStatus(str(r.status)),
    rawStatus: str(r.status),
    orderType: str(r.origOrderType ?? r.orderType),
    // `sor` rows may lack totalSize: filled + remaining when both are known (never 0 by default).
    totalSize: num(r.totalSize) ?? (num(r.filledQuantity) !== undefined && num(r.remainingQuantity) !== undefined ? num(r.filledQuantity)! + num(r.remainingQuantity)! : undefined),
    filledQuantity: num(r.filledQuantity),
    remainingQuantity: num(r.remainingQuantity),
    avgPrice: num(r.avgPrice),
    price: num(r.price),
    tif: str(r.timeInForce),
    lastExecutionTime: num(r.lastExecutionTime_r),
  };
}
