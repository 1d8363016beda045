/**
 * The few session calls auto-login needs, as an interface so the IBKR client's session layer can
 * provide them (and its pacing) instead of this small default over src/gateway/http.ts.
 */
import { callGateway } from '../gateway/http.ts';

export interface AuthStatus {
  /** false when the gateway answers 401: nobody is logged in (no SSO session). */
  sso: boolean;
  authenticated: boolean;
  connected: boolean;
  competing: boolean;
  /** `message` / `fail` text of the status, when the gateway gave one. */
  message?: string;
}

export interface GatewayAuthApi {
  /** POST /iserver/auth/status. Throws when the gateway is unreachable or answers 5xx. */
  authStatus(): Promise<AuthStatus>;
  /** POST /iserver/auth/ssodh/init {publish:true, compete}. */
  initBrokerageSession(compete: boolean): Promise<void>;
  /** Which kind of account the SSO session is for, when the gateway says (GET /sso/validate LOGIN_TYPE). */
  loginType?(): Promise<'paper' | 'live' | undefined>;
}

/** The health rule ibind uses: a usable brokerage session. */
export function isUsable(s: AuthStatus): boolean {
  return s.sso && s.authenticated && s.connected && !s.competing;
}

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}

export function createGatewayAuthApi(baseUrl: string, opts: { timeoutMs?: number } = {}): GatewayAuthApi {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async authStatus() {
      const res = await callGateway(baseUrl, '/v1/api/iserver/auth/status', { timeoutMs });
      if (res.status === 401) return { sso: false, authenticated: false, connected: false, competing: false };
      if (res.status >= 400 || typeof res.json !== 'object' || res.json === null) {
        throw new Error(`auth status: HTTP ${res.status}${res.text ? ` ${res.text.slice(0, 200)}` : ''}`);
      }
      const j = res.json as Record<string, unknown>;
      const message = [j['message'], j['fail']].filter((m) => typeof m === 'string' && m).join('; ');
      return {
        sso: true,
        authenticated: bool(j['authenticated']),
        connected: bool(j['connected']),
        competing: bool(j['competing']),
        ...(message ? { message } : {}),
      };
    },
    async initBrokerageSession(compete) {
      const res = await callGateway(baseUrl, '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete }, timeoutMs });
      if (res.status >= 400) throw new Error(`ssodh/init: HTTP ${res.status}${res.text ? ` ${res.text.slice(0, 200)}` : ''}`);
    },
    async loginType() {
      try {
        const res = await callGateway(baseUrl, '/v1/api/sso/validate', { method: 'GET', timeoutMs });
        const t = (res.json as Record<string, unknown> | undefined)?.['LOGIN_TYPE'];
        if (res.status !== 200) return undefined;
        return t === 2 || t === '2' ? 'paper' : t === 1 || t === '1' ? 'live' : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
