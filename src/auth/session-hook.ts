/**
 * Wiring auto-login into the IBKR client's session layer without changing it:
 * - `sessionAuthApi(session)` lets AutoLogin read the auth status and open the brokerage session
 *   through the client (its pacing, TLS policy and decoders) instead of its own small client;
 * - `attachAutoLogin(session, login)` logs in again whenever the session reports `lost`, then lets
 *   the session re-open and re-prime its brokerage session (`recover()`, which emits `restored`).
 *
 *   const client = new IbkrClient({ baseUrl, ... });
 *   const login = createAutoLogin(settings, logger, { api: sessionAuthApi(client.session) });
 *   await login.ensureAuthenticated();          // before the first ensureBrokerage()
 *   const detach = attachAutoLogin(client.session, login, logger);
 */
import { NotAuthenticatedError } from '../ibkr/errors.ts';
import type { Session } from '../ibkr/session.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import type { Reauthenticator } from './auto-login.ts';
import { createGatewayAuthApi, type GatewayAuthApi } from './gateway-auth-api.ts';

/** The part of the client's Session auto-login uses. */
export type SessionLike = Pick<Session, 'status' | 'initBrokerage' | 'recover' | 'on' | 'off'>;

export function sessionAuthApi(session: SessionLike, baseUrl?: string): GatewayAuthApi {
  // sso/validate is not part of the session API; the small default client reads it when a URL is given.
  const fallback = baseUrl ? createGatewayAuthApi(baseUrl) : undefined;
  return {
    async authStatus() {
      try {
        const s = await session.status();
        return { sso: true, authenticated: s.authenticated, connected: s.connected, competing: s.competing, ...(s.fail || s.message ? { message: s.fail || s.message } : {}) };
      } catch (err) {
        if (err instanceof NotAuthenticatedError) return { sso: false, authenticated: false, connected: false, competing: false };
        throw err;
      }
    },
    async initBrokerageSession(compete) {
      await session.initBrokerage(compete);
    },
    ...(fallback?.loginType ? { loginType: fallback.loginType } : {}),
  };
}

/** Re-logs in on every `lost` event of the session. Returns a function that detaches it. */
export function attachAutoLogin(session: SessionLike, login: Reauthenticator, logger: Logger = silentLogger): () => void {
  const onLost = ({ reason }: { reason: string; competing: boolean }): void => {
    void login
      .reauthenticate(`session lost: ${reason}`)
      .then(() => session.recover())
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'automatic login after a lost session failed'));
  };
  session.on('lost', onLost);
  return () => {
    session.off('lost', onLost);
  };
}
