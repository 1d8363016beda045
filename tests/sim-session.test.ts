/**
 * Simulator conformance: session endpoints, login page, second factors, expiry, competing session,
 * gateway strictness (User-Agent 403, Content-Length 411). Reference: ibkr-cpapi.md §1, §2, §11.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, totpCode, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { call, clientFor, sleep } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
async function start(o: SimOptions = {}) {
  sim = await startSimulator({ seed: 3, startTime: '2026-03-10T15:00:00Z', ...o });
  return { sim, ...clientFor(sim) };
}
afterEach(async () => { await sim?.close(); sim = undefined; });

const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

describe('sim session', () => {
  it('starts unauthenticated: API routes answer 401 with the gateway error body', async () => {
    const { api } = await start();
    const r = await api('POST', '/iserver/auth/status');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'not authenticated', statusCode: 401 });
    expect((await api('POST', '/tickle')).status).toBe(401);
    expect((await api('GET', '/portfolio/accounts')).status).toBe(401);
  });

  it('serves a login form with the selectors a headless login uses (§11 item 25)', async () => {
    const { raw } = await start();
    for (const path of ['/', '/sso/Login?forwardTo=22&RL=1&ip2loc=on']) {
      const r = await raw('GET', path);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/text\/html/);
      expect(r.text).toMatch(/<input[^>]+name="username"/);
      expect(r.text).toMatch(/<input[^>]+name="password"/);
      expect(r.text).toMatch(/<button[^>]+class="btn btn-lg xyz-button-login"/);
      expect(r.text).toMatch(/class="xyz-errormessage/);
      expect(r.text).toMatch(/<label for="toggle1"/);
      expect(r.text).toMatch(/<input type="checkbox" id="toggle1"/);
    }
  });

  it('rejects a wrong password with the error box, logs in demo/demo and picks paper or live by the switch', async () => {
    const { raw, api } = await start();
    const bad = await raw('POST', '/sso/Login?forwardTo=22&RL=1&ip2loc=on', form({ username: 'demo', password: 'nope' }));
    expect(bad.text).toMatch(/class="xyz-errormessage" role="alert">Invalid username password combination/);
    expect(bad.text).not.toContain('Client login succeeds');
    expect((await clientFor(sim!).hook('GET', '/state')).body.login.failedAttempts).toBe(1);

    const live = await raw('POST', '/sso/Login?forwardTo=22&RL=1&ip2loc=on', form({ username: 'demo', password: 'demo' }));
    expect(live.text).toContain('Client login succeeds');
    expect(String(live.headers['set-cookie'])).toMatch(/SBID=/);
    // SSO only: brokerage needs ssodh/init.
    const st = await api('POST', '/iserver/auth/status');
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ authenticated: false, connected: true, competing: false });
    const init = await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(init.body).toMatchObject({ authenticated: true, established: true, competing: false, connected: true });
    await sleep(1600); // realistic "no bridge" window is 1.5 s
    const acc = await api('GET', '/iserver/accounts');
    expect(acc.body.accounts).toEqual(['U1234567']);
    expect(acc.body.isPaper).toBe(false);

    const paper = await raw('POST', '/sso/Login', form({ username: 'demo', password: 'demo', toggle1: 'paper' }));
    expect(paper.text).toContain('Client login succeeds');
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    await sleep(1600);
    const acc2 = await api('GET', '/iserver/accounts');
    expect(acc2.body).toMatchObject({ accounts: ['DU1234567'], selectedAccount: 'DU1234567', isPaper: true });
    const validate = await api('GET', '/sso/validate');
    expect(validate.body).toMatchObject({ RESULT: true, LOGIN_TYPE: 2, USER_NAME: 'demo' });
  });

  it('answers "no bridge" 400 right after ssodh/init (503 with noBridgeStatus), then serves', async () => {
    const { hook, api } = await start();
    await hook('POST', '/login', { paper: true });
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    const r = await api('GET', '/iserver/accounts');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'Bad Request: no bridge', statusCode: 400 });
    await hook('POST', '/realism', { noBridgeStatus: 503 });
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    const old = await api('GET', '/iserver/accounts');
    expect(old.status).toBe(503);
    expect(old.body).toEqual({ error: 'no bridge', statusCode: 503 });
    await sleep(1600);
    expect((await api('GET', '/iserver/accounts')).status).toBe(200);
  });

  it('refuses ssodh/init without publish:true (500)', async () => {
    const { hook, api } = await start();
    await hook('POST', '/login', {});
    expect((await api('POST', '/iserver/auth/ssodh/init', { body: { compete: true } })).status).toBe(500);
  });

  it('logs in with a TOTP second factor (RFC 6238)', async () => {
    const secret = 'JBSWY3DPEHPK3PXP';
    const { raw, api } = await start({ users: [{ username: 'alice', password: 'pw', secondFactor: 'totp', totpSecret: secret }] });
    const step1 = await raw('POST', '/sso/Login', form({ username: 'alice', password: 'pw' }));
    expect(step1.text).toContain('id="twofactbase"');
    expect(step1.text).toContain('id="xyz-field-bronze-response"');
    const token = /name="token" value="([0-9a-f]+)"/.exec(step1.text)![1]!;
    const wrong = await raw('POST', '/sso/Login', form({ step: '2fa', token, bronzeResponse: '000000' === totpCode(secret) ? '111111' : '000000' }));
    expect(wrong.text).toContain('Invalid security code');
    const ok = await raw('POST', '/sso/Login', form({ step: '2fa', token, bronzeResponse: totpCode(secret) }));
    expect(ok.text).toContain('Client login succeeds');
    expect((await api('POST', '/tickle')).status).toBe(200);
  });

  it('matches the RFC 6238 SHA1 test vector', () => {
    // RFC 6238 appendix B: secret "12345678901234567890" (base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ), T=59 s → 94287082 (8 digits).
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000, 30, 8)).toBe('94287082');
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1111111109_000, 30, 8)).toBe('07081804');
  });

  it('push second factor: waits until approved through the hook', async () => {
    const { raw, hook, api } = await start({ pacing: false, users: [{ username: 'bob', password: 'pw', secondFactor: 'push', push: 'hook' }] });
    const step1 = await raw('POST', '/sso/Login', form({ username: 'bob', password: 'pw' }));
    expect(step1.text).toContain('login-step-notification');
    const token = /data-token="([0-9a-f]+)"/.exec(step1.text)![1]!;
    const pending = await raw('GET', `/sso/Login/status?token=${token}`);
    expect(pending.text).toContain('login-step-notification');
    expect((await api('POST', '/tickle')).status).toBe(401);
    expect((await hook('GET', '/login/pending')).body).toHaveLength(1);
    expect((await hook('POST', '/login/approve', {})).body).toEqual({ approved: 1 });
    const done = await raw('GET', `/sso/Login/status?token=${token}`);
    expect(done.text).toContain('Client login succeeds');
    expect((await api('POST', '/tickle')).status).toBe(200);
  });

  it('push second factor can auto-approve after N ms or never', async () => {
    const { raw } = await start({ users: [{ username: 'a', password: 'p', secondFactor: 'push', push: 200 }, { username: 'n', password: 'p', secondFactor: 'push', push: 'never' }] });
    const t1 = /data-token="([0-9a-f]+)"/.exec((await raw('POST', '/sso/Login', form({ username: 'a', password: 'p' }))).text)![1]!;
    await sleep(250);
    expect((await raw('GET', `/sso/Login/status?token=${t1}`)).text).toContain('Client login succeeds');
    const t2 = /data-token="([0-9a-f]+)"/.exec((await raw('POST', '/sso/Login', form({ username: 'n', password: 'p' }))).text)![1]!;
    await sleep(250);
    expect((await raw('GET', `/sso/Login/status?token=${t2}`)).text).not.toContain('Client login succeeds');
  });

  it('tickle and auth status have the reference shapes', async () => {
    const { api } = await start({ authenticated: true });
    const t = await api('POST', '/tickle');
    expect(t.status).toBe(200);
    expect(t.body.session).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof t.body.ssoExpires).toBe('number');
    expect(t.body.collission).toBe(false);
    expect(t.body.iserver.authStatus).toMatchObject({ authenticated: true, competing: false, connected: true, message: '' });
    expect(String(t.headers['set-cookie'])).toMatch(/x-sess-uuid=/);
    for (const method of ['POST', 'GET']) {
      const s = await api(method, '/iserver/auth/status');
      expect(s.body).toMatchObject({ authenticated: true, competing: false, connected: true, fail: '' });
      expect(s.body.serverInfo.serverName).toBeTypeOf('string');
    }
    expect((await api('POST', '/iserver/reauthenticate')).body).toEqual({ message: 'triggered' });
  });

  it('the brokerage session times out without requests, then the SSO session', async () => {
    // Idle times are wall-clock: each sleep is a lower bound (a busy machine only lengthens it), and
    // the SSO limit is far enough beyond the brokerage one that the first sleep cannot reach it.
    const { api, hook } = await start({ authenticated: true, brokerageTimeoutMs: 300, ssoTimeoutMs: 4_000 });
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(true);
    await sleep(450);
    const st = await api('POST', '/iserver/auth/status');
    expect(st.body).toMatchObject({ authenticated: false, connected: true });
    expect((await api('GET', '/iserver/accounts')).status).toBe(401);
    await sleep(4_100);
    expect((await api('POST', '/tickle')).status).toBe(401);
    expect((await hook('GET', '/state')).body.session.sso).toBe(false);
  });

  it('tickle keeps the session alive', async () => {
    // Tickles 200 ms apart for twice the idle limit: alive throughout. (The limit leaves a busy machine
    // 2 s between two tickles.)
    const { api } = await start({ authenticated: true, brokerageTimeoutMs: 2_000, pacing: false });
    const end = Date.now() + 4_000;
    while (Date.now() < end) {
      await sleep(200);
      expect((await api('POST', '/tickle')).status).toBe(200);
    }
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(true);
  });

  it('a competing login flips competing:true, /iserver/accounts returns {}, and ssodh/init with compete takes it back', async () => {
    const { api, hook } = await start({ authenticated: true, profile: 'ideal' });
    await hook('POST', '/session/competing');
    expect((await api('POST', '/iserver/auth/status')).body).toMatchObject({ authenticated: false, competing: true });
    const noCompete = await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: false } });
    expect(noCompete.body.fail).toBe('Force compete capability must be used together with compete flag');
    const init = await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(init.body).toMatchObject({ authenticated: true, competing: false });
    expect((await api('GET', '/iserver/accounts')).body.accounts).toEqual(['DU1234567']);
  });

  it('the nightly reset drops the brokerage session and the accounts priming (hook)', async () => {
    const { api, hook } = await start({ authenticated: true, profile: 'realistic', pacing: false });
    await api('GET', '/iserver/accounts');
    await hook('POST', '/session/reset', {});
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(false);
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    await sleep(1600);
    const r = await api('GET', '/iserver/marketdata/snapshot?conids=265598&fields=31');
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('Please query /accounts first');
  });

  it('the nightly reset also happens on the simulated clock at 01:00 New York', async () => {
    const { api, hook } = await start({ authenticated: true, startTime: '2026-03-11T04:50:00Z', speed: 1 });
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(true);
    await hook('POST', '/clock', { advance: 15 * 60_000 }); // 00:50 EDT → 01:05 EDT
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(false);
  });

  it('logout ends the SSO session', async () => {
    const { api } = await start({ authenticated: true });
    expect((await api('POST', '/logout')).body).toEqual({ status: true });
    expect((await api('POST', '/tickle')).status).toBe(401);
  });

  it('realistic: 403 without User-Agent, 411 for a POST without Content-Length; ideal accepts both', async () => {
    const { sim: s } = await start({ authenticated: true });
    const noUa = await call(s.apiUrl, 'POST', '/tickle', { noUserAgent: true, body: '{}' });
    expect(noUa.status).toBe(403);
    // A raw POST without Content-Length (chunked) — undici sends a stream body chunked.
    const { request } = await import('undici');
    const { agent } = await import('./support/sim-http.ts');
    const { Readable } = await import('node:stream');
    const chunked = await request(`${s.apiUrl}/tickle`, { method: 'POST', headers: { 'user-agent': 'x' }, body: Readable.from([Buffer.from('{}')]), dispatcher: agent });
    expect(chunked.statusCode).toBe(411);
    await chunked.body.text();
    await s.close();
    const ideal = await start({ authenticated: true, profile: 'ideal' });
    expect((await call(ideal.sim.apiUrl, 'POST', '/tickle', { noUserAgent: true, body: '{}' })).status).toBe(200);
  });

  it('also answers under /v1/portal and 404s unknown API paths', async () => {
    const { raw } = await start({ authenticated: true });
    expect((await raw('POST', '/v1/portal/iserver/auth/status')).status).toBe(200);
    expect((await raw('GET', '/v1/api/no/such/thing')).status).toBe(404);
  });
});
