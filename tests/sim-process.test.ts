/**
 * The simulator as a separate process (how crash tests and other suites start it), and its login
 * page in a real headless Chromium.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { startSimulator, totpCode, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { call, clientFor } from './support/sim-http.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

const children: ChildProcess[] = [];
let sim: RunningSimulator | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await sim?.close();
  sim = undefined;
});

function startProcess(args: string[]): Promise<{ child: ChildProcess; first: string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, tandemArgv(['sim', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (first) => resolve({ child, first, exit }));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    void exit.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

describe('sim process', () => {
  it('prints its URL as JSON on the first line, serves, and exits 0 on SIGTERM', async () => {
    const { child, first, exit } = await startProcess(['--port', '0', '--json', '--authenticated', '--seed', '4', '--faults', 'latency=1']);
    const info = JSON.parse(first);
    expect(info).toMatchObject({ accounts: { paper: 'DU1234567', live: 'U1234567' }, seed: 4, profile: 'realistic' });
    expect(info.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const t = await call(info.apiUrl, 'POST', '/tickle');
    expect(t.status).toBe(200);
    expect(t.body.iserver.authStatus.authenticated).toBe(true);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('prints the URL then the accounts without --json; --realism overrides flags', async () => {
    const { first } = await startProcess(['--port', '0', '--realism', 'nightlyReset=false,noBridgeMs=0']);
    expect(first).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const state = (await call(first, 'GET', '/sim/state')).body;
    expect(state.realism).toMatchObject({ nightlyReset: false, noBridgeMs: 0, requireUserAgent: true });
  });

  it('refuses an unknown realism flag with exit code 2', async () => {
    const child = spawn(process.execPath, tandemArgv(['sim', '--port', '0', '--realism', 'bogus=true']), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    expect(await new Promise<number | null>((resolve) => child.once('exit', resolve))).toBe(2);
    expect(err).toMatch(/--realism bogus=true: expected flag=value/);
  });

  it('refuses a bad fault spec with exit code 2 and a clear message', async () => {
    const child = spawn(process.execPath, tandemArgv(['sim', '--port', '0', '--faults', 'explode@3s']), { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--faults: fault "explode@3s": unknown action explode/);
  });

  it('the login page works in headless Chromium: paper switch, credentials, push and TOTP second factors', async () => {
    sim = await startSimulator({ seed: 2 });
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
      await page.goto(`${sim.url}/sso/Login?forwardTo=22&RL=1&ip2loc=on`);
      await page.fill('input[name="username"]', 'demo');
      await page.fill('input[name="password"]', 'wrong');
      await page.click('.btn.btn-lg.xyz-button-login');
      await page.waitForSelector('.xyz-errormessage:not(.hidden)');
      expect(await page.textContent('.xyz-errormessage')).toContain('Invalid username password combination');
      await page.fill('input[name="username"]', 'demo');
      await page.fill('input[name="password"]', 'demo');
      await page.click('label[for=toggle1]');
      expect(await page.isChecked('#toggle1')).toBe(true);
      await page.click('.btn.btn-lg.xyz-button-login');
      await page.waitForSelector('text=Client login succeeds');
      const st = (await clientFor(sim).hook('GET', '/state')).body;
      expect(st.session).toMatchObject({ sso: true, isPaper: true, account: 'DU1234567' });
      // Push second factor: the page waits (refreshing itself) until the hook approves.
      await page.goto(`${sim.url}/`);
      await page.fill('input[name="username"]', 'push');
      await page.fill('input[name="password"]', 'demo');
      await page.click('.btn.btn-lg.xyz-button-login');
      await page.waitForSelector('.login-step-notification');
      await clientFor(sim).hook('POST', '/login/approve', {});
      await page.waitForSelector('text=Client login succeeds', { timeout: 30_000 });
      // TOTP second factor.
      await page.goto(`${sim.url}/`);
      await page.fill('input[name="username"]', 'totp');
      await page.fill('input[name="password"]', 'demo');
      await page.click('.btn.btn-lg.xyz-button-login');
      await page.waitForSelector('#twofactbase #xyz-field-bronze-response');
      await page.fill('#xyz-field-bronze-response', totpCode('JBSWY3DPEHPK3PXP'));
      await page.click('.btn.btn-lg.xyz-button-login');
      await page.waitForSelector('text=Client login succeeds');
    } finally {
      await browser.close();
    }
  });
});
