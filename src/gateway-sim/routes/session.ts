/** Session endpoints (§2): tickle, auth status, ssodh/init, reauthenticate, logout, sso/validate. */
import type { SimCore } from '../core.ts';
import { errorBody, type Router } from '../router.ts';

export function registerSessionRoutes(r: Router, core: SimCore): void {
  const s = core.session;

  const tickle = () => {
    const status = s.authStatus();
    if (!s.brokerage) delete status.serverInfo;
    const expires = Math.max(0, core.opts.ssoTimeoutMs - (Date.now() - s.lastRequestAt));
    return {
      body: {
        session: s.token, ssoExpires: expires, collission: false, userId: 99996016,
        hmds: { error: 'no bridge' }, iserver: { authStatus: status },
      },
      headers: { 'Set-Cookie': `x-sess-uuid=${s.token}.0000; Path=/v1/api; Secure; HttpOnly` },
    };
  };
  r.add('POST', '/tickle', 'sso', tickle);
  r.add('GET', '/tickle', 'sso', tickle);

  const status = () => {
    const st = s.authStatus();
    if (!s.brokerage) return { body: { authenticated: false, competing: s.competing, connected: s.connected, message: '', MAC: st.MAC, fail: '' } };
    return { body: st };
  };
  r.add('POST', '/iserver/auth/status', 'sso', status);
  r.add('GET', '/iserver/auth/status', 'sso', status);

  r.add('POST', '/iserver/auth/ssodh/init', 'sso', (req) => {
    const b = (req.body ?? {}) as { publish?: unknown; compete?: unknown };
    if (b.publish !== true) return errorBody(500, 'publish must be true');
    if (s.competing && b.compete !== true) {
      return { body: { authenticated: false, established: false, competing: true, connected: true, message: '', fail: 'Force compete capability must be used together with compete flag' } };
    }
    s.openBrokerage(core.opts.realism.noBridgeMs);
    const st = s.authStatus();
    return { body: { authenticated: true, established: true, competing: false, connected: true, message: '', MAC: st.MAC, serverInfo: st.serverInfo, hardware_info: st.hardware_info } };
  });

  r.add('POST', '/iserver/reauthenticate', 'sso', () => {
    if (!s.competing) s.openBrokerage(core.opts.realism.noBridgeMs);
    return { body: { message: 'triggered' } };
  });

  r.add('POST', '/logout', 'sso', () => {
    s.logout();
    return { body: { status: true } };
  });

  r.add('GET', '/sso/validate', 'sso', () => ({
    body: {
      USER_ID: 99996016, USER_NAME: s.username, RESULT: true, AUTH_TIME: s.ssoStartedAt, SF_ENABLED: false, IS_FREE_TRIAL: false,
      CREDENTIAL: s.username, IP: '127.0.0.1', EXPIRES: Math.max(0, core.opts.ssoTimeoutMs - (Date.now() - s.lastRequestAt)),
      QUALIFIED_FOR_MOBILE_AUTH: null, LANDING_APP: 'UNIVERSAL', IS_MASTER: false, lastAccessed: s.lastRequestAt,
      LOGIN_TYPE: s.isPaper ? 2 : 1, PAPER_USER_NAME: s.username,
      features: { env: 'PROD', wlms: true, realtime: true, bond: true, optionChains: true, calendar: true, newMf: true },
      region: 'NJ',
    },
  }));

  r.add('POST', '/hmds/auth/init', 'sso', () => ({ body: { authenticated: true } }));
}
