/**
 * Every stop path of `tandem run` ends the process: SIGTERM after the brokerage session was dropped
 * and re-opened (and after a browser re-login) exits, closing every socket to the gateway. Real
 * processes: the simulator and the engine are each a `tandem` child.
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

const children: Child[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startSim(authenticated: boolean): Promise<{ url: string; accounts: { paper: string } }> {
  const sim = startTandem(['sim', '--port', '0', '--json', '--profile', 'ideal', '--seed', '7', '--start-time', new Date(DAY_OPEN).toISOString(), ...(authenticated ? ['--authenticated'] : [])]);
  children.push(sim);
  return JSON.parse(await sim.waitLine(/^\{"url"/, 30_000)) as { url: string; accounts: { paper: string } };
}

function engineConfig(url: string, autoLogin: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-shutdown-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'strategy.yaml'), pairStrategyYaml());
  writeFileSync(join(dir, 'engine.yaml'), `kind: engine
gateway: { url: "${url}", timeoutMs: 60000 }
dataDir: ${join(dir, 'data')}
auth: { autoLogin: ${autoLogin}, browserPath: ${BROWSER} }
logging: { level: DEBUG }
strategies: [strategy.yaml]
`);
  return join(dir, 'engine.yaml');
}

/** Polls the output until `re` has matched `n` lines. */
async function waitCount(c: Child, re: RegExp, n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (c.lines.filter((l) => re.test(l)).length < n) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${n}x ${re} in:\n${c.lines.slice(-30).join('\n')}`);
    if (c.proc.exitCode !== null) throw new Error(`exited (${c.proc.exitCode}) before ${n}x ${re}:\n${c.lines.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the exit code, or 'still running' when the process outlived `ms` after the signal. */
function exitWithin(c: Child, ms: number): Promise<number | null | 'still running'> {
  return Promise.race([c.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);
}

describe('tandem run stops on SIGTERM after a re-authentication', () => {
  it('shutdown after reauth: SIGTERM exits after the brokerage session was dropped and re-opened', async () => {
    const sim = await startSim(true);
    const run = startTandem(['run', '--config', engineConfig(sim.url, false)], { IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper });
    children.push(run);
    await run.waitLine(/engine running/, 120_000);
    await simHook(sim.url, '/sim/session/drop', 'POST');
    await run.waitLine(/session restored/, 120_000);
    run.proc.kill('SIGTERM');
    const code = await exitWithin(run, 60_000);
    expect(code, run.lines.slice(-30).join('\n')).toBe(0);
    // Closed by its owners, not by the entry point's last-resort exit.
    expect(run.lines.join('\n')).not.toMatch(/left open after the command ended/);
  }, 300_000);

  it.skipIf(!browser.ok)('shutdown after browser re-login: SIGTERM exits after the SSO session was lost and the page logged in again', async () => {
    const sim = await startSim(false);
    const run = startTandem(['run', '--config', engineConfig(sim.url, true)], { IBKR_USERNAME: 'demo', IBKR_PASSWORD: 'demo', IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper });
    children.push(run);
    await run.waitLine(/engine running/, 120_000);
    await simHook(sim.url, '/sim/session/logout', 'POST');
    // The second browser login, then the engine trading again.
    await waitCount(run, /logged in; brokerage session open/, 2, 180_000);
    await run.waitLine(/session restored/, 120_000);
    run.proc.kill('SIGTERM');
    const code = await exitWithin(run, 60_000);
    expect(code, run.lines.slice(-30).join('\n')).toBe(0);
    // Closed by its owners, not by the entry point's last-resort exit.
    expect(run.lines.join('\n')).not.toMatch(/left open after the command ended/);
  }, 400_000);
});
