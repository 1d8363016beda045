/**
 * The gateway's session state (§2, §12.2): one SSO session (the browser login) and on top of it the
 * brokerage session. Like the real gateway, the session belongs to the gateway, not to a cookie:
 * any local caller is served under it (§1.4).
 */
import { randomBytes } from 'node:crypto';

export type SessionEvent = 'sts' | 'reset' | 'logout';

export class SessionState {
  sso = false;
  brokerage = false;
  connected = false;
  competing = false;
  username = '';
  isPaper = true;
  /** 32 hex chars: what /tickle returns as `session` and the websocket expects in cookie `api`. */
  token = '';
  /** Real ms of the last API request (idle expiry). */
  lastRequestAt = Date.now();
  ssoStartedAt = 0;
  accountsPrimed = false;
  portfolioPrimed = false;
  ordersWarm = false;
  tradesWarm = false;
  pnlWarm = false;
  positionsWarm = false;
  /** Real ms when the current brokerage session started. */
  brokerageSince = 0;
  /** Real ms until which /iserver routes answer "no bridge". */
  noBridgeUntil = 0;
  suppressed = new Set<string>();
  /** Brokerage session generation, bumped on every new brokerage session (resets per-session caches). */
  generation = 0;
  sessionId = '';

  constructor(private readonly onChange: (ev: SessionEvent) => void) {}

  login(username: string, isPaper: boolean): void {
    this.sso = true;
    this.connected = true;
    this.username = username;
    this.isPaper = isPaper;
    this.token = randomBytes(16).toString('hex');
    this.ssoStartedAt = Date.now();
    this.lastRequestAt = Date.now();
    this.brokerage = false;
    this.competing = false;
    this.clearBrokerageState();
    this.onChange('sts');
  }

  /** Opens a brokerage session (ssodh/init, or an authenticated start). */
  openBrokerage(noBridgeMs: number): void {
    this.brokerage = true;
    this.brokerageSince = Date.now();
    this.competing = false;
    this.connected = true;
    this.noBridgeUntil = noBridgeMs > 0 ? Date.now() + noBridgeMs : 0;
    this.clearBrokerageState();
    this.onChange('sts');
  }

  private clearBrokerageState(): void {
    this.generation++;
    this.sessionId = `${randomBytes(4).toString('hex')}.${String(this.generation).padStart(8, '0')}`;
    this.accountsPrimed = false;
    this.ordersWarm = false;
    this.tradesWarm = false;
    this.pnlWarm = false;
    this.suppressed.clear();
  }

  /** Brokerage session ends (idle, nightly reset, session drop); the SSO session may survive. */
  dropBrokerage(reason: SessionEvent = 'sts'): void {
    if (!this.brokerage && !this.competing) return;
    this.brokerage = false;
    this.accountsPrimed = false;
    this.onChange(reason);
  }

  competingLogin(): void {
    this.competing = true;
    this.brokerage = false;
    this.accountsPrimed = false;
    this.onChange('sts');
  }

  logout(): void {
    const wasUp = this.sso;
    this.sso = false;
    this.brokerage = false;
    this.connected = false;
    this.competing = false;
    this.accountsPrimed = false;
    this.portfolioPrimed = false;
    this.positionsWarm = false;
    this.token = '';
    if (wasUp) this.onChange('logout');
  }

  /** Applies idle expiry (called on each request before it is served, and by the engine loop). */
  checkIdle(now: number, brokerageTimeoutMs: number, ssoTimeoutMs: number): void {
    const idle = now - this.lastRequestAt;
    if (this.sso && idle > ssoTimeoutMs) this.logout();
    else if (this.brokerage && idle > brokerageTimeoutMs) this.dropBrokerage();
  }

  touch(now: number): void {
    this.lastRequestAt = now;
  }

  authStatus(): Record<string, unknown> {
    return {
      authenticated: this.brokerage,
      competing: this.competing,
      connected: this.connected,
      message: '',
      MAC: 'F4:03:43:CD:BD:C0',
      serverInfo: { serverName: 'JifSim001', serverVersion: 'Build 10.25.0m, tandem simulator' },
      hardware_info: '1c4558e8|F4:03:43:CD:BD:C0',
      fail: '',
    };
  }
}
