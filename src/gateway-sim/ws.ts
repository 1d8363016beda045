/**
 * The websocket at /v1/api/ws (§8): session by cookie `api` (raw token or JSON {"session":...}) or by
 * a first `{"session":"..."}` frame; greeting (system, act, sts); heartbeats; tic / ech+hb; market
 * data (smd/umd, deltas, 10-minute expiry), live orders (sor/uor, first full rows then deltas),
 * trades (str/utr, replay then live), P&L (spl/upl), account summary and ledger (ssd/usd, sld/uld).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SimCore } from './core.ts';
import type { Execution, SimOrder } from './orders.ts';
import { accountsBody, pnlRows, round2 } from './routes/accounts.ts';
import { fieldValues } from './routes/marketdata.ts';

interface SmdSub {
  fields: Set<string>;
  since: number;
  last: Record<string, unknown> | undefined;
}

interface Client {
  ws: WebSocket;
  authed: boolean;
  /** Session known, greeting not sent yet (commands are dropped). */
  pending?: boolean;
  smd: Map<number, SmdSub>;
  sor: boolean;
  sorLast: Map<number, Record<string, unknown>>;
  str: boolean;
  spl: boolean;
  splLast: string;
  sld: boolean;
  lastBeat: number;
  lastLedger: number;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function tokenFromCookie(v: string | undefined): string | undefined {
  if (!v) return undefined;
  let s = v;
  try { s = decodeURIComponent(v); } catch { /* keep raw */ }
  if (s.startsWith('{')) {
    try {
      const j = JSON.parse(s) as { session?: unknown };
      return typeof j.session === 'string' ? j.session : undefined;
    } catch { return undefined; }
  }
  return s;
}

export class WsHub {
  readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly core: SimCore,
    /** OAuth mode: the upgrade must carry `?oauth_token=<access token>`. */
    private readonly oauth?: { acceptsWebsocket(url: URL): boolean },
  ) {
    core.orders.on('order', (o: SimOrder) => this.onOrder(o));
    core.orders.on('execution', (e: Execution) => this.onExecution(e));
    core.on('session', (ev: string) => this.onSession(ev));
    core.on('wsDrop', () => this.dropAll());
    core.on('bulletin', (message: string) => this.bulletin(message));
    this.timer = setInterval(() => this.pump(), 250);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.dropAll();
    this.wss.close();
  }

  /** Sends a bulletin (`blt`) to every authenticated socket (hook). */
  bulletin(message: string): number {
    let n = 0;
    for (const c of this.clients) if (c.authed) { this.send(c, { topic: 'blt', args: { id: String(Date.now()), message } }); n++; }
    return n;
  }

  dropAll(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
  }

  get count(): number {
    return this.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const s = this.core.session;
    if (!s.sso || (this.oauth && !this.oauth.acceptsWebsocket(new URL(req.url ?? '/', 'https://127.0.0.1')))) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const token = tokenFromCookie(parseCookies(req.headers.cookie).api);
      const c: Client = { ws, authed: false, smd: new Map(), sor: false, sorLast: new Map(), str: false, spl: false, splLast: '', sld: false, lastBeat: Date.now(), lastLedger: 0 };
      this.clients.add(c);
      ws.on('close', () => this.clients.delete(c));
      ws.on('error', () => this.clients.delete(c));
      // Text and binary frames alike carry UTF-8 commands.
      ws.on('message', (data) => this.onMessage(c, data.toString()));
      if (token === s.token || !this.core.opts.realism.wsRequireSession) this.greetLater(c);
      else if (token !== undefined) { this.send(c, { error: 'invalid session', code: 1 }); ws.close(); }
      else this.send(c, { message: 'waiting for session' });
    });
  }

  private send(c: Client, msg: unknown): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
    c.ws.send(this.core.opts.realism.wsBinaryFrames ? Buffer.from(text) : text, { binary: this.core.opts.realism.wsBinaryFrames });
    if (this.core.faults.wsDrop()) { c.ws.terminate(); this.clients.delete(c); }
  }

  private stsArgs(): Record<string, unknown> {
    const s = this.core.session;
    return { authenticated: s.brokerage, competing: s.competing, connected: s.connected, message: '', fail: '', serverName: 'JifSim001', serverVersion: 'Build 10.25.0m, tandem simulator', username: s.username };
  }

  /**
   * Realistic: the greeting comes `wsGreetingDelayMs` after the session is known and commands sent
   * before it are dropped without an answer, so a client must wait for `sts` before subscribing.
   */
  private greetLater(c: Client): void {
    const d = this.core.opts.realism.wsGreetingDelayMs;
    if (d <= 0) return this.greet(c);
    c.pending = true;
    setTimeout(() => { c.pending = false; if (c.ws.readyState === c.ws.OPEN) this.greet(c); }, d).unref();
  }

  private greet(c: Client): void {
    c.authed = true;
    const s = this.core.session;
    this.send(c, { topic: 'system', success: s.username, isFT: false, isPaper: s.isPaper });
    if (s.brokerage) this.send(c, { topic: 'act', args: accountsBody(this.core) });
    this.send(c, { topic: 'sts', args: { authenticated: s.brokerage } });
    this.send(c, { topic: 'sts', args: this.stsArgs() });
  }

  private onMessage(c: Client, text: string): void {
    const s = this.core.session;
    const t = text.trim();
    if (c.pending) return; // before the greeting: dropped, as the gateway does
    if (!c.authed) {
      try {
        const j = JSON.parse(t) as { session?: unknown };
        if (typeof j.session === 'string' && j.session === s.token) return this.greetLater(c);
      } catch { /* fall through */ }
      this.send(c, { error: 'Topic unknown: session not established', code: 1 });
      return;
    }
    if (t.startsWith('{')) {
      // A late {"session":...} frame on an authenticated socket is harmless.
      return;
    }
    if (t === 'tic') {
      const st = s.authStatus();
      this.send(c, { topic: 'tic', alive: s.sso, id: s.token, lastAccessed: s.lastRequestAt });
      this.send(c, { topic: 'tic', iserver: { authStatus: { authenticated: st.authenticated, competing: st.competing, connected: st.connected, message: '', MAC: st.MAC, serverInfo: st.serverInfo } } });
      this.send(c, { topic: 'tic', md: { error: 'no bridge' } });
      this.send(c, { topic: 'tic', hmds: { error: 'no bridge' } });
      if (s.sso) s.touch(Date.now());
      return;
    }
    if (t === 'ech+hb') { this.send(c, 'ech+hb'); return; }
    const first = t.indexOf('+');
    const topic = first < 0 ? t : t.slice(0, first);
    const rest = first < 0 ? '' : t.slice(first + 1);
    const argStart = rest.indexOf('{');
    const target = argStart < 0 ? rest.replace(/\+$/, '') : rest.slice(0, argStart).replace(/\+$/, '');
    let args: Record<string, unknown> = {};
    if (argStart >= 0) {
      try { args = JSON.parse(rest.slice(argStart)) as Record<string, unknown>; } catch { this.send(c, { error: `Malformed arguments for ${topic}`, code: 1 }); return; }
    }
    const needsBrokerage = ['smd', 'sor', 'str', 'smh', 'sbd'].includes(topic);
    if (needsBrokerage && !s.brokerage) { this.send(c, { error: 'not authenticated', code: 1 }); return; }
    switch (topic) {
      case 'smd': {
        const conid = Number(target.split('@')[0]);
        if (!this.core.instruments.get(conid)) { this.send(c, { error: `Unknown conid ${target}`, code: 1 }); return; }
        const fields = Array.isArray(args.fields) ? (args.fields as unknown[]).map(String) : ['31', '84', '86'];
        const prev = c.smd.get(conid);
        const set = new Set([...(prev?.fields ?? []), ...fields]);
        c.smd.set(conid, { fields: set, since: Date.now(), last: undefined });
        // Streaming counts as market data for the session (no o354 question; REST snapshot warm).
        if (!this.core.md.has(conid)) this.core.md.set(conid, { firstSeen: 0, fields: new Set(set), polls: 1 });
        this.pushSmd(c, conid);
        return;
      }
      case 'umd': c.smd.delete(Number(target.split('@')[0])); return;
      case 'sor': {
        c.sor = true;
        c.sorLast.clear();
        const acct = this.core.sessionAccount().id;
        const rows = [...this.core.orders.orders.values()].filter((o) => o.acctId === acct).map((o) => {
          const row = this.sorRow(o);
          c.sorLast.set(o.orderId, row);
          return row;
        });
        this.send(c, { topic: 'sor', args: rows });
        return;
      }
      case 'uor': c.sor = false; return;
      case 'str': {
        c.str = true;
        if (args.realtimeUpdatesOnly !== true) {
          const days = Math.min(7, Math.max(1, Number(args.days ?? 1) || 1));
          const since = this.core.clock.now() - days * 86_400_000;
          const acct = this.core.sessionAccount().id;
          const rows = this.core.orders.executions.filter((e) => e.acct === acct && e.time >= since).map((e) => this.core.orders.executionRow(e, true));
          if (rows.length) this.send(c, { topic: 'str', args: rows });
        }
        return;
      }
      case 'utr': c.str = false; return;
      case 'spl': c.spl = true; c.splLast = ''; this.pushPnl(c); return;
      case 'upl': c.spl = false; return;
      case 'ssd': this.sendSummary(c, target); return;
      case 'usd': this.send(c, { result: 'unsubscribed from summary' }); return;
      case 'sld': c.sld = true; this.sendLedger(c, target); return;
      case 'uld': c.sld = false; this.send(c, { result: 'unsubscribed from ledger' }); return;
      case 'hb': return;
      default: this.send(c, { error: `Topic unknown: ${topic}`, code: 1 });
    }
  }

  private pushSmd(c: Client, conid: number): void {
    const sub = c.smd.get(conid);
    const inst = this.core.instruments.get(conid);
    if (!sub || !inst) return;
    // One reading of the clock for the values and their `_updated` time.
    const now = this.core.mdTime();
    const vals = fieldValues(this.core, inst, sub.fields, now);
    const q = this.core.market.quote(conid, now)!;
    if (!sub.last) {
      this.send(c, { server_id: 'q0', conidEx: String(conid), conid, _updated: q.time, '6119': 'q0', ...vals, '6509': this.core.mdAvailability(), topic: `smd+${conid}` });
      sub.last = vals;
      return;
    }
    const delta: Record<string, unknown> = {};
    let changed = false;
    for (const [k, v] of Object.entries(vals)) {
      if (sub.last[k] !== v) { delta[k] = v; changed = true; }
    }
    if (!changed) return;
    sub.last = vals;
    this.send(c, { server_id: 'q0', conid, _updated: q.time, ...delta, topic: `smd+${conid}` });
  }

  private pushPnl(c: Client): void {
    const rows = pnlRows(this.core, true);
    const key = JSON.stringify(rows);
    if (key === c.splLast) return;
    c.splLast = key;
    this.send(c, { topic: 'spl', args: rows });
  }

  private sendSummary(c: Client, acctId: string): void {
    const a = this.core.sessionAccount();
    const id = acctId || a.id;
    const m = this.core.orders.marks(a);
    const ts = Math.floor(this.core.clock.now() / 1000);
    const items: [string, number][] = [['NetLiquidation', m.netLiq], ['TotalCashValue', a.cash], ['GrossPositionValue', m.gross], ['InitMarginReq', m.initMargin], ['AvailableFunds', m.netLiq - m.initMargin]];
    this.send(c, { topic: `ssd+${id}`, result: items.map(([key, v]) => ({ key, currency: 'USD', monetaryValue: round2(v), severity: 0, timestamp: ts })) });
  }

  private sendLedger(c: Client, acctId: string): void {
    const a = this.core.sessionAccount();
    const id = acctId || a.id;
    const m = this.core.orders.marks(a);
    const ts = Math.floor(this.core.clock.now() / 1000);
    c.lastLedger = Date.now();
    const row = (key: string) => ({ key, currency: key.replace('LedgerList', ''), cashbalance: round2(a.cash), netliquidationvalue: round2(m.netLiq), stockmarketvalue: round2(m.stockValue), cryptocurrencyvalue: round2(m.cryptoValue), unrealizedpnl: round2(m.upnl), realizedpnl: round2(m.realized), timestamp: ts });
    this.send(c, { topic: `sld+${id}`, result: [row('LedgerListUSD'), row('LedgerListBASE')] });
  }

  private pump(): void {
    const now = Date.now();
    const expiry = this.core.opts.realism.smdExpiryMs;
    for (const c of [...this.clients]) {
      if (!c.authed) continue;
      if (now - c.lastBeat >= this.core.opts.wsHeartbeatMs) {
        c.lastBeat = now;
        this.send(c, { topic: 'system', hb: now });
      }
      if (!this.core.session.brokerage) continue;
      for (const [conid, sub] of c.smd) {
        if (expiry > 0 && now - sub.since >= expiry) { c.smd.delete(conid); continue; }
        this.pushSmd(c, conid);
      }
      if (c.spl) this.pushPnl(c);
      if (c.sld && now - c.lastLedger >= 10_000) this.sendLedger(c, '');
    }
  }

  private onOrder(o: SimOrder): void {
    for (const c of this.clients) {
      if (!c.authed || !c.sor || this.core.sorPaused || o.acctId !== this.core.sessionAccount().id) continue;
      const row = this.sorRow(o);
      const last = c.sorLast.get(o.orderId);
      c.sorLast.set(o.orderId, row);
      if (!last) { this.send(c, { topic: 'sor', args: [row] }); continue; }
      const delta: Record<string, unknown> = { acct: o.acctId, orderId: o.orderId };
      for (const [k, v] of Object.entries(row)) if (last[k] !== v) delta[k] = v;
      // Realistic: a partial-fill delta carries the new quantities but not the average price.
      if (this.core.opts.realism.sorSparse && o.status !== 'Filled') delete delta.avgPrice;
      if (Object.keys(delta).length > 2) this.send(c, { topic: 'sor', args: [delta] });
    }
  }

  /** A `sor` row; realistic rows leave `totalSize` out (§8.8: never assume a field is there). */
  private sorRow(o: SimOrder): Record<string, unknown> {
    const row = this.core.orders.liveRow(o);
    if (this.core.opts.realism.sorSparse) delete row.totalSize;
    return row;
  }

  private onExecution(e: Execution): void {
    for (const c of this.clients) {
      if (c.authed && c.str && e.acct === this.core.sessionAccount().id) this.send(c, { topic: 'str', args: [this.core.orders.executionRow(e, true)] });
    }
  }

  private onSession(ev: string): void {
    const args = this.stsArgs();
    for (const c of [...this.clients]) {
      if (!c.authed) continue;
      this.send(c, { topic: 'sts', args });
      if (ev === 'reset' || ev === 'logout') c.ws.close(1000, ev);
      else if (!this.core.session.brokerage) { c.smd.clear(); }
    }
  }
}
