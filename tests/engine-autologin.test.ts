/**
 * `tandem run` with `auth.autoLogin: true` against a simulator that starts logged out: the engine
 * logs in through the gateway's login page in headless Chromium, opens the brokerage session and
 * trades, and the password never reaches its output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkBrowser, DEFAULT_BROWSER_PATH } from '../src/auth/chromium.ts';
import { DAY_OPEN, simHook } from './helpers/engine-harness.ts';
import { startTandem, type Child } from './helpers/processes.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';

const BROWSER = process.env.TANDEM_CHROMIUM ?? DEFAULT_BROWSER_PATH;
const browser = checkBrowser(BROWSER);
if (!browser.ok) console.warn(`skipping engine auto-login tests: ${browser.problem ?? 'no Chromium'} (install Debian's chromium)`);

const children: Child[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!browser.ok)(`engine with auto-login (${BROWSER})`, () => {
  it('engine auto-login: logs in through the page, then trades; no credential in the output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-autologin-'));
    dirs.push(dir);
    // Starts logged out (no --authenticated): nothing but the login page opens the session.
    const sim = startTandem(['sim', '--port', '0', '--json', '--profile', 'ideal', '--seed', '7', '--start-time', new Date(DAY_OPEN).toISOString()]);
    children.push(sim);
    const info = JSON.parse(await sim.waitLine(/^\{"url"/, 30_000)) as { url: string; accounts: { paper: string } };
    expect((await simHook<{ session?: { sso?: boolean } }>(info.url, '/sim/state')).session?.sso ?? false).toBe(false);

    writeFileSync(join(dir, 'strategy.yaml'), pairStrategyYaml());
    writeFileSync(join(dir, 'engine.yaml'), `kind: engine
gateway: { url: "${info.url}", timeoutMs: 60000 }
dataDir: ${join(dir, 'data')}
auth: { autoLogin: true, browserPath: ${BROWSER} }
logging: { level: DEBUG }
strategies: [strategy.yaml]
`);
    const password = 'demo';
    const run = startTandem(['run', '--config', join(dir, 'engine.yaml'), '--max-bars', '3'], {
      IBKR_USERNAME: 'demo', IBKR_PASSWORD: password, IBKR_PAPER_ACCOUNT_ID: info.accounts.paper,
    });
    children.push(run);
    await run.waitLine(/engine running/, 120_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
    const code = await run.exited;
    const out = run.lines.join('\n');
    expect(code, run.lines.slice(-20).join('\n')).toBe(0);
    expect(out).toMatch(/^stopped \(max-bars\) after 3 bars/m);
    // The session was opened by the browser login, not by anything else.
    expect(out).toMatch(/logging in through the gateway login page/);
    expect(out).toMatch(/logged in; brokerage session open/);
    const state = await simHook<{ session: { sso: boolean; isPaper: boolean } }>(info.url, '/sim/state');
    expect(state.session.sso).toBe(true);
    expect(state.session.isPaper).toBe(true);
    // "demo" is also the username: neither may appear as a logged value.
    expect(out).not.toMatch(/"(password|username)":"demo"/);
    expect(out).not.toContain(`IBKR_PASSWORD=${password}`);
  }, 240_000);
});
