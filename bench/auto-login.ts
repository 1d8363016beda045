/**
 * Auto-login timing: how long a login takes end to end against the simulator, in headless Chromium.
 * Prints, per kind of login (no second factor, TOTP, brokerage-only reopen), the median and worst of
 * N runs: Chromium start, the login page flow, and the total until the brokerage session is usable.
 *
 *   npx tsx bench/auto-login.ts [--runs N] [--browser /usr/bin/chromium]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoLogin } from '../src/auth/auto-login.ts';
import { launchChromium } from '../src/auth/chromium.ts';
import { callGateway } from '../src/gateway/http.ts';
import { startSimulator } from '../src/gateway-sim/index.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}
const runs = Number(arg('runs', '5'));
const browserPath = arg('browser', '/usr/bin/chromium');
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DP';

const sim = await startSimulator({
  profile: 'ideal',
  users: [
    { username: 'bench', password: 'bench-pw', secondFactor: 'none' },
    { username: 'bench-totp', password: 'bench-pw', secondFactor: 'totp', totpSecret: SECRET },
  ],
});
const dataDir = mkdtempSync(join(tmpdir(), 'tandem-bench-login-'));

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, worst ${s[s.length - 1]!.toFixed(0)} ms`;
}

try {
  const launch: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const b = await launchChromium(browserPath);
    launch.push(performance.now() - t);
    await b.close();
  }
  console.log(`Chromium start (${runs} runs): ${stats(launch)}`);

  for (const [label, credentials] of [
    ['login, no second factor', { username: 'bench', password: 'bench-pw' }],
    ['login, TOTP second factor', { username: 'bench-totp', password: 'bench-pw', totpSecret: SECRET }],
  ] as const) {
    const total: number[] = [];
    for (let i = 0; i < runs; i++) {
      await callGateway(sim.url, '/sim/session/logout');
      const login = new AutoLogin({ baseUrl: sim.url, credentials, mode: 'paper', browserPath, dataDir, browser: { presubmitDelayMs: 0 } });
      const r = await login.ensureAuthenticated();
      if (r.action !== 'login') throw new Error(`expected a login, got ${r.action}`);
      total.push(r.durationMs);
    }
    console.log(`${label} until the brokerage session is usable (${runs} runs, no pre-submit pause): ${stats(total)}`);
  }

  const reopen: number[] = [];
  const login = new AutoLogin({ baseUrl: sim.url, credentials: { username: 'bench', password: 'bench-pw' }, mode: 'paper', browserPath, dataDir });
  for (let i = 0; i < runs; i++) {
    await callGateway(sim.url, '/sim/session/drop');
    const r = await login.ensureAuthenticated();
    if (r.action !== 'brokerage') throw new Error(`expected a brokerage reopen, got ${r.action}`);
    reopen.push(r.durationMs);
  }
  console.log(`brokerage session reopened without the browser (${runs} runs): ${stats(reopen)}`);
} finally {
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });
}
