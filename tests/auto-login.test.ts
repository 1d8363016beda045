/**
 * Auto-login end to end: real headless Chromium drives the simulator's login page over HTTPS.
 * Skipped (with the reason printed) when Chromium is missing; CI installs it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { AutoLogin, type AutoLoginOptions } from '../src/auth/auto-login.ts';
import { saveBlankedScreenshot } from '../src/auth/browser-login.ts';
import { checkBrowser, launchChromium } from '../src/auth/chromium.ts';
import { readFailedLogins, recordFailedLogin } from '../src/auth/failed-logins.ts';
import { autoLoginChecks } from '../src/auth/checks.ts';
import { createGatewayAuthApi, isUsable } from '../src/auth/gateway-auth-api.ts';
import { LoginError } from '../src/auth/login-error.ts';
import { callGateway } from '../src/gateway/http.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';
import { IbkrClient } from '../src/ibkr/client.ts';
import { attachAutoLogin, sessionAuthApi } from '../src/auth/session-hook.ts';

const BROWSER = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
const browser = checkBrowser(BROWSER);
if (!browser.ok) console.warn(`auto-login browser tests skipped (TANDEM_CHROMIUM names another browser): ${browser.problem}`);

const USERNAME = 'alice-7f3k';
const PASSWORD = 'Pw-s3cret-91Xq';
const TOTP_USER = 'bob-totp';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DP';
const PUSH_USER = 'carol-push';

let sim: RunningSimulator;
let dataDir: string;
const captured: string[] = [];
/** A plain pino logger with no redaction: if our code logged a secret, it would be in `captured`. */
const rawLogger = pino({ level: 'debug' }, new Writable({ write(chunk, _e, cb) { captured.push(String(chunk)); cb(); } }));

beforeAll(async () => {
  if (!browser.ok) return;
  sim = await startSimulator({
    profile: 'ideal',
    users: [
      { username: USERNAME, password: PASSWORD, secondFactor: 'none' },
      { username: TOTP_USER, password: PASSWORD, secondFactor: 'totp', totpSecret: TOTP_SECRET },
      { username: PUSH_USER, password: PASSWORD, secondFactor: 'push', push: 'hook' },
    ],
  });
});
afterAll(async () => {
  await sim?.close();
});
afterEach(async () => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (sim) await callGateway(sim.url, '/sim/session/logout');
});

function autoLogin(over: Partial<AutoLoginOptions> = {}): AutoLogin {
  dataDir = mkdtempSync(join(tmpdir(), 'tandem-login-'));
  return new AutoLogin({
    baseUrl: sim.url,
    credentials: { username: USERNAME, password: PASSWORD },
    mode: 'paper',
    browserPath: BROWSER,
    dataDir,
    pushTimeoutMs: 3_000,
    attemptsPerLogin: 1,
    backoff: { initialMs: 100, maxMs: 200 },
    confirmTimeoutMs: 15_000,
    logger: rawLogger,
    browser: { presubmitDelayMs: 100, stepTimeoutMs: 15_000 },
    ...over,
  });
}

async function failureOf(p: Promise<unknown>): Promise<LoginError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LoginError);
    return err as LoginError;
  }
  throw new Error('expected the login to fail');
}

// Each test drives a real Chromium through a login: beside a CPU hog on 2 cores one launch alone
// can take 10 s or more, so the budget per test is sized for that (every wait inside has its own bound).
describe.skipIf(!browser.ok)(`auto-login in headless Chromium (${BROWSER})`, { timeout: 120_000 }, () => {
  it('logs in, then the auth status is authenticated and the brokerage session is open', async () => {
    const api = createGatewayAuthApi(sim.url);
    expect((await api.authStatus()).sso).toBe(false);
    const login = autoLogin();
    const report = await login.ensureAuthenticated();
    expect(report).toMatchObject({ action: 'login', secondFactor: 'none', attempts: 1 });
    expect(isUsable(await api.authStatus())).toBe(true);
    // A brokerage-only endpoint answers, and the session is the paper one the mode asked for.
    const accounts = await callGateway(sim.url, '/v1/api/iserver/accounts', { method: 'GET' });
    expect(accounts.status).toBe(200);
    expect(JSON.stringify(accounts.json)).toContain(sim.accounts.paper);
    expect(await api.loginType?.()).toBe('paper');
    // Nothing to do the second time.
    expect((await login.ensureAuthenticated()).action).toBe('none');
  });

  it('chooses live mode on the page when Tandem runs live', async () => {
    await autoLogin({ mode: 'live' }).ensureAuthenticated();
    expect(await createGatewayAuthApi(sim.url).loginType?.()).toBe('live');
  });

  it('reports a wrong password with the page message, saves a blanked screenshot and counts the failure', async () => {
    const wrong = 'Wr0ng-pass-Zz88';
    const seen: string[] = [];
    const login = autoLogin({ credentials: { username: USERNAME, password: wrong }, browser: { presubmitDelayMs: 100, inspectBeforeScreenshot: (s) => seen.push(s) } });
    const err = await failureOf(login.ensureAuthenticated());
    expect(err.kind).toBe('rejected');
    expect(err.message).toContain('"Invalid username password combination"');
    expect(err.pageMessage).toBe('Invalid username password combination');
    expect(err.screenshot).toBeDefined();
    expect(existsSync(err.screenshot!)).toBe(true);
    expect(err.screenshot!.startsWith(join(dataDir, 'auth', 'screenshots'))).toBe(true);
    expect(readFileSync(err.screenshot!).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(err.screenshot!).size).toBeGreaterThan(1000);
    // The page as it was when the screenshot was taken: the error is there, no credential is.
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain('Invalid username password combination');
    expect(seen[0]).not.toContain(wrong);
    expect(seen[0]).not.toContain(USERNAME);
    expect(err.message).not.toContain(wrong);
    expect(readFailedLogins(dataDir).count).toBe(1);
  });

  it('stops before the lockout limit without opening the browser again', async () => {
    const login = autoLogin({ credentials: { username: USERNAME, password: 'nope-nope-1' }, maxFailedLogins: 2 });
    expect((await failureOf(login.ensureAuthenticated())).kind).toBe('rejected');
    expect((await failureOf(login.ensureAuthenticated())).kind).toBe('rejected');
    expect(readFailedLogins(dataDir).count).toBe(2);
    const started = Date.now();
    const guard = await failureOf(login.ensureAuthenticated());
    expect(guard.kind).toBe('setup');
    expect(guard.message).toContain('auto-login stopped: 2 logins were refused in a row');
    expect(guard.message).toContain('tandem login --reset-failures');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(readFailedLogins(dataDir).count).toBe(2);
  });

  it('stop() ends a login waiting out its backoff at once', async () => {
    const login = autoLogin({ credentials: { username: USERNAME, password: 'bad-pw-backoff' }, attemptsPerLogin: 3, backoff: { initialMs: 60_000 } });
    const pending = failureOf(login.ensureAuthenticated());
    for (const end = Date.now() + 90_000; Date.now() < end && readFailedLogins(dataDir).count === 0;) await new Promise((r) => setTimeout(r, 100));
    expect(readFailedLogins(dataDir).count).toBe(1);
    const stopAt = Date.now();
    login.stop();
    const err = await pending;
    expect(err.kind).toBe('stopped');
    expect(Date.now() - stopAt).toBeLessThan(30_000); // the backoff is 60 s (the bound leaves a loaded machine room to close Chromium)
  });

  it('answers a TOTP second factor with a code from IBKR_TOTP_SECRET', async () => {
    const report = await autoLogin({ credentials: { username: TOTP_USER, password: PASSWORD, totpSecret: TOTP_SECRET } }).ensureAuthenticated();
    expect(report).toMatchObject({ action: 'login', secondFactor: 'totp' });
    expect(isUsable(await createGatewayAuthApi(sim.url).authStatus())).toBe(true);
  });

  it('reports a refused TOTP code and counts it toward the lockout guard', async () => {
    const err = await failureOf(autoLogin({ credentials: { username: TOTP_USER, password: PASSWORD, totpSecret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' } }).ensureAuthenticated());
    expect(err.kind).toBe('code-rejected');
    expect(err.message).toContain('refused the authenticator code: "Invalid security code. Please try again."');
    expect(err.message).toContain("machine's clock");
    expect(readFailedLogins(dataDir).count).toBe(1);
  });

  it('explains a code second factor without IBKR_TOTP_SECRET', async () => {
    const err = await failureOf(autoLogin({ credentials: { username: TOTP_USER, password: PASSWORD } }).ensureAuthenticated());
    expect(err.kind).toBe('code-needed');
    expect(err.message).toContain('IBKR_TOTP_SECRET is not set');
  });

  it('waits a bounded time for a push approval and says so when nobody approves', async () => {
    const started = Date.now();
    const err = await failureOf(autoLogin({ credentials: { username: PUSH_USER, password: PASSWORD }, pushTimeoutMs: 2_000 }).ensureAuthenticated());
    expect(err.kind).toBe('push-timeout');
    expect(err.message).toContain('not approved within 2 s');
    expect(err.message).toContain('IBKR Mobile');
    expect(Date.now() - started).toBeLessThan(60_000); // bounded (a Chromium start-up under load is most of it)
    expect(captured.join('')).toContain('approve the login notification in IBKR Mobile now');
  });

  it('logs in once the push notification is approved', async () => {
    const login = autoLogin({ credentials: { username: PUSH_USER, password: PASSWORD }, pushTimeoutMs: 20_000 });
    const t0 = Date.now();
    const done = login.ensureAuthenticated();
    // Approve as the phone would, once this login is waiting for it (earlier tests left stale ones).
    let token: string | undefined;
    for (const end = Date.now() + 90_000; Date.now() < end && !token;) {
      const pending = await callGateway(sim.url, '/sim/login/pending', { method: 'GET' });
      const mine = (pending.json as Array<{ token: string; createdAt: number; approved: boolean }>).find((p) => p.createdAt >= t0 && !p.approved);
      token = mine?.token;
      if (!token) await new Promise((r) => setTimeout(r, 200));
    }
    expect(token).toBeDefined();
    await callGateway(sim.url, '/sim/login/approve', { body: { token } });
    expect(await done).toMatchObject({ action: 'login', secondFactor: 'push' });
  });

  it('renews a session that expires later: brokerage reopened without the browser, a lost login redone', async () => {
    const api = createGatewayAuthApi(sim.url);
    const login = autoLogin();
    expect((await login.ensureAuthenticated()).action).toBe('login');

    // Brokerage session dropped (idle timeout, nightly reset): ssodh/init is enough.
    await callGateway(sim.url, '/sim/session/drop');
    expect((await api.authStatus()).authenticated).toBe(false);
    expect((await login.reauthenticate('session lost')).action).toBe('brokerage');
    expect(isUsable(await api.authStatus())).toBe(true);

    // The whole login is gone (24 h cap, weekly token reset): the watcher logs in again by itself.
    await callGateway(sim.url, '/sim/session/logout');
    expect((await api.authStatus()).sso).toBe(false);
    const stop = login.watch(300);
    try {
      for (const end = Date.now() + 90_000; Date.now() < end && !isUsable(await api.authStatus());) await new Promise((r) => setTimeout(r, 200));
    } finally {
      stop();
    }
    expect(isUsable(await api.authStatus())).toBe(true);
  });

  it('plugs into the IBKR client: a session lost later is logged in again and restored', async () => {
    const client = new IbkrClient({ baseUrl: sim.url, timeoutMs: 10_000 });
    try {
      const login = autoLogin({ api: sessionAuthApi(client.session, sim.url) });
      expect((await login.ensureAuthenticated()).action).toBe('login');
      await client.session.ensureBrokerage();
      const detach = attachAutoLogin(client.session, login, rawLogger);
      const restored = new Promise<void>((r) => client.session.once('restored', () => r()));
      const logins = () => captured.join('').split('logged in; brokerage session open').length;
      const before = logins();
      // The whole login ends (24 h cap, weekly reset); the client's keep-alive notices it.
      await callGateway(sim.url, '/sim/session/logout');
      await client.session.keepAliveTick();
      await restored;
      expect(logins()).toBe(before + 1);
      detach();
      expect(isUsable(await createGatewayAuthApi(sim.url).authStatus())).toBe(true);
      expect((await client.session.iserverAccounts()).accounts).toContain(sim.accounts.paper);
    } finally {
      await client.close();
    }
  });

  it('tandem login logs in on demand and says so; a refused login exits 3 with the page message', async () => {
    const run = async (password: string): Promise<{ code: number | null; out: string; err: string }> => {
      const cwd = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
      try {
        // The sources through tsx, as every test starts tandem (never a stale or missing dist/ build).
        const child = spawn(process.execPath, tandemArgv(['login', '--gateway', sim.url, '--mode', 'paper', '--attempts', '1', '--data-dir', join(cwd, 'data'), '--verbose']), {
          cwd,
          env: { ...process.env, IBKR_USERNAME: USERNAME, IBKR_PASSWORD: password, IBKR_TOTP_SECRET: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
        if (password !== PASSWORD) expect(readdirSync(join(cwd, 'data', 'auth', 'screenshots')).length).toBe(1);
        return { code, out, err };
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    };
    const ok = await run(PASSWORD);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^logged in \(paper, second factor: none\) at https:\/\/127\.0\.0\.1:\d+ in \d+\.\d s\n$/);
    expect(isUsable(await createGatewayAuthApi(sim.url).authStatus())).toBe(true);
    const again = await run(PASSWORD);
    expect(again.out).toContain('already logged in');
    await callGateway(sim.url, '/sim/session/logout');
    const bad = await run('Cli-wrong-pw-55');
    expect(bad.code).toBe(3);
    expect(bad.err).toContain('error: the login page refused the login: "Invalid username password combination".');
    for (const r of [ok, again, bad]) {
      for (const secret of [PASSWORD, USERNAME, 'Cli-wrong-pw-55']) expect(r.out + r.err).not.toContain(secret);
    }
    captured.push(ok.err, bad.err);
    // Three `tandem login` processes, each starting tsx and Chromium: on a busy machine that is far
    // more than the 30 s default, so the budget is sized for the work.
  }, 360_000);

  it('blanks filled fields and echoed credentials before a screenshot', async () => {
    const b = await launchChromium(BROWSER);
    try {
      const page = await b.newPage();
      // A page that keeps what was typed and echoes the username, as a client-side error would.
      await page.setContent(`<form><input name="username" value="${USERNAME}"><input type="password" name="password">
        <input id="code" data-last="${PASSWORD}"><p class="xyz-errormessage">User ${USERNAME} is locked</p></form>`);
      await page.fill('input[name=password]', PASSWORD);
      expect(await page.inputValue('input[name=password]')).toBe(PASSWORD);
      dataDir = mkdtempSync(join(tmpdir(), 'tandem-shot-'));
      let state = '';
      const file = await saveBlankedScreenshot(page, { dir: dataDir, secrets: [USERNAME, PASSWORD], inspect: (s) => (state = s) });
      expect(file && existsSync(file)).toBe(true);
      expect(state).toContain('is locked');
      expect(state).not.toContain(PASSWORD);
      expect(state).not.toContain(USERNAME);
      expect(await page.inputValue('input[name=password]')).toBe('');
      expect(await page.inputValue('input[name=username]')).toBe('');
    } finally {
      await b.close();
    }
  });

  it('never writes a credential to the log output of a login run', () => {
    // Runs last in this file: `captured` holds every log line of the runs above (success, wrong
    // password, TOTP, push) from a logger that does no redaction of its own.
    const all = captured.join('');
    expect(all).toContain('submitting the login form');
    expect(all.length).toBeGreaterThan(1000);
    for (const secret of [PASSWORD, USERNAME, TOTP_USER, PUSH_USER, TOTP_SECRET, 'Wr0ng-pass-Zz88', 'nope-nope-1']) {
      expect(all, `log output contains ${secret.slice(0, 2)}…`).not.toContain(secret);
    }
  });
});

describe('autoLoginChecks (doctor lines)', () => {
  it('says auto-login is off and how to turn it on', () => {
    const lines = autoLoginChecks({ autoLogin: false, browserPath: BROWSER, credentials: {}, mode: 'paper' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ check: 'auto-login', status: 'skip' });
    expect(lines[0]!.fix).toContain('auth.autoLogin: true');
  });

  it('reports browser, credentials and the second factor without printing a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-checks-'));
    try {
      const good = autoLoginChecks({ autoLogin: true, browserPath: '/nonexistent/chromium', credentials: { username: USERNAME, password: PASSWORD, totpSecret: TOTP_SECRET }, mode: 'live', dataDir: dir });
      expect(good.map((l) => [l.check, l.status])).toEqual([
        ['auto-login', 'ok'], ['auto-login browser', 'fail'], ['auto-login credentials', 'ok'], ['auto-login second factor', 'ok'],
      ]);
      expect(good[1]!.detail).toContain('no browser at /nonexistent/chromium');
      expect(good[3]!.detail).toContain('TOTP');
      const text = JSON.stringify(good);
      for (const s of [USERNAME, PASSWORD, TOTP_SECRET]) expect(text).not.toContain(s);

      const push = autoLoginChecks({ autoLogin: true, browserPath: BROWSER, credentials: { password: PASSWORD }, mode: 'paper', pushTimeoutSeconds: 90, dataDir: dir });
      expect(push.find((l) => l.check === 'auto-login credentials')).toMatchObject({ status: 'fail', detail: 'IBKR_USERNAME not set' });
      expect(push.find((l) => l.check === 'auto-login second factor')).toMatchObject({ status: 'warn' });
      expect(push.find((l) => l.check === 'auto-login second factor')!.detail).toContain('within 90 s');

      const badSecret = autoLoginChecks({ autoLogin: true, browserPath: BROWSER, credentials: { username: 'u', password: 'p', totpSecret: 'not base32!' }, mode: 'paper' });
      expect(badSecret.find((l) => l.check === 'auto-login second factor')).toMatchObject({ status: 'fail' });

      recordFailedLogin(dir, 'Invalid username password combination');
      expect(autoLoginChecks({ autoLogin: true, browserPath: BROWSER, credentials: {}, mode: 'paper', dataDir: dir }).at(-1)).toMatchObject({ check: 'auto-login failures', status: 'warn' });
      for (let i = 0; i < 4; i++) recordFailedLogin(dir, 'Invalid username password combination');
      expect(autoLoginChecks({ autoLogin: true, browserPath: BROWSER, credentials: {}, mode: 'paper', dataDir: dir }).at(-1)).toMatchObject({ check: 'auto-login failures', status: 'fail' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('auto-login without a gateway', () => {
  it('says the gateway does not answer instead of failing obscurely', async () => {
    const { fixedPort } = await import('./helpers/ports.ts');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-nogw-'));
    try {
      const login = new AutoLogin({ baseUrl: `https://127.0.0.1:${await fixedPort()}`, credentials: {}, mode: 'paper', browserPath: BROWSER, dataDir: dir });
      const err = await failureOf(login.ensureAuthenticated());
      expect(err.kind).toBe('unreachable');
      expect(err.message).toMatch(/does not answer \(.*ECONNREFUSED.*\)\. Is it running\? Start it with "tandem gateway start/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
