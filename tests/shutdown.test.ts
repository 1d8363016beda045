/**
 * Every stop path of `tandem run` ends the process: SIGTERM after the brokerage session was dropped
 * and re-opened (and after a browser re-login) exits, closing every socket to the gateway. Real
 * processes: the simulator and the engine are each a `tandem` child.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkBrowser } from '../src/auth/chromium.ts';
import { simHook } from './helpers/engine-harness.ts';
import type { Child } from './helpers/processes.ts';
import { BROWSER, exitWithin, NodeProcesses, waitCount } from './helpers/run-node.ts';

const browser = checkBrowser(BROWSER);
const nodes = new NodeProcesses();
afterEach(() => nodes.cleanup());

async function expectCleanExit(run: Child): Promise<void> {
  run.proc.kill('SIGTERM');
  const code = await exitWithin(run, 60_000);
  expect(code, run.lines.slice(-30).join('\n')).toBe(0);
  // Closed by its owners, not by the entry point's last-resort exit.
  expect(run.lines.join('\n')).not.toMatch(/left open after the command ended/);
}

describe('tandem run stops on SIGTERM after a re-authentication', () => {
  it('shutdown after reauth: SIGTERM exits after the brokerage session was dropped and re-opened', async () => {
    const sim = await nodes.startSim(true);
    const run = nodes.start(['run', '--config', nodes.engineConfig(sim.url)], { IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper });
    await run.waitLine(/engine running/, 120_000);
    await simHook(sim.url, '/sim/session/drop', 'POST');
    await run.waitLine(/session restored/, 120_000);
    await expectCleanExit(run);
  }, 300_000);

  it.skipIf(!browser.ok)('shutdown after browser re-login: SIGTERM exits after the SSO session was lost and the page logged in again', async () => {
    const sim = await nodes.startSim(false);
    const run = nodes.start(['run', '--config', nodes.engineConfig(sim.url, { autoLogin: true })], {
      IBKR_USERNAME: 'demo', IBKR_PASSWORD: 'demo', IBKR_PAPER_ACCOUNT_ID: sim.accounts.paper,
    });
    await run.waitLine(/engine running/, 120_000);
    await simHook(sim.url, '/sim/session/logout', 'POST');
    // The second browser login, then the engine trading again.
    await waitCount(run, /logged in; brokerage session open/, 2, 180_000);
    await run.waitLine(/session restored/, 120_000);
    await expectCleanExit(run);
  }, 400_000);
});
