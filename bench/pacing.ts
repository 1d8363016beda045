/**
 * Pacing benchmark: fires N mixed requests (default 2000) through one IbkrClient at the simulator
 * with the simulator's pacing enforced, once per budget (default 10/s and the 40/s ceiling, the
 * simulator's global limit set to the same value), and prints the sustained rate, the share of the
 * budget, the 429 count and the most requests seen in any rolling second (client send times and
 * simulator arrival times).
 *
 *   npx tsx bench/pacing.ts [--requests N] [--rates 10,40] [--in-process]
 *
 * By default the simulator runs in its own process (`tandem sim`), as a real gateway would: sharing
 * one event loop with the client would add the server's work to every round trip.
 * 2000 requests at 10/s take about 200 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startSimulator } from '../src/gateway-sim/index.ts';
import { IbkrClient } from '../src/ibkr/client.ts';
import { maxInAnyWindow } from '../src/ibkr/pacing.ts';
import { Agent, request } from 'undici';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const N = Number(arg('requests', '2000'));
const RATES = arg('rates', '10,40').split(',').map(Number);
const ACCT = 'DU1234567';
const STOCKS = [265598, 756733, 320227571, 272093, 8314, 8894];
const IN_PROCESS = process.argv.includes('--in-process');
const START = '2026-11-23T05:10:00Z';

/** Starts the simulator (child process by default) with its pacing at `rate`/s. */
async function startSim(rate: number): Promise<{ url: string; close: () => Promise<void> }> {
  const pacing = { enabled: true, globalPerSecond: rate, perEndpoint: true, penaltyAfterViolations: 10, penaltyMs: 600_000 };
  if (IN_PROCESS) {
    const sim = await startSimulator({ authenticated: true, seed: 5, startTime: START, realism: { noBridgeMs: 0 }, pacing });
    return { url: sim.url, close: () => sim.close() };
  }
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'sim', '--port', '0', '--json', '--authenticated', '--seed', '5', '--start-time', START], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const url = (JSON.parse(line) as { url: string }).url;
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  const r = await request(`${url}/sim/pacing`, { method: 'POST', dispatcher: insecure, headers: { 'user-agent': 'bench', 'content-type': 'application/json' }, body: JSON.stringify(pacing) });
  await r.body.text();
  await insecure.close();
  return {
    url,
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r2) => child.once('exit', r2));
    },
  };
}

async function run(rate: number) {
  const sim = await startSim(rate);
  const sends: number[] = [];
  const client = new IbkrClient({ baseUrl: sim.url, maxRequestsPerSecond: rate, pacing: { onSend: (e) => sends.push(e.time) } });
  await client.session.ensureBrokerage();
  await client.portfolio.accounts();
  sends.length = 0;
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  await request(`${sim.url}/sim/requests`, { method: 'DELETE', dispatcher: insecure, headers: { 'user-agent': 'bench' } }).then((r) => r.body.text());

  // A mix of reads across endpoints: snapshots (≤ 20%, their own limit is 10/s), contract details,
  // search, auth status, account summary, ledger, positions, contract info.
  const jobs: (() => Promise<unknown>)[] = [];
  for (let i = 0; i < N; i++) {
    const conid = STOCKS[i % STOCKS.length]!;
    switch (i % 10) {
      case 0:
      case 5:
        jobs.push(() => client.marketData.snapshotOnce([conid]));
        break;
      case 1:
        jobs.push(() => client.contracts.details([conid]));
        break;
      case 2:
        jobs.push(() => client.contracts.search('AAPL', 'STK'));
        break;
      case 3:
        jobs.push(() => client.session.status());
        break;
      case 4:
        jobs.push(() => client.portfolio.summary(ACCT));
        break;
      case 6:
        jobs.push(() => client.portfolio.ledger(ACCT));
        break;
      case 7:
        jobs.push(() => client.api.requestRaw({ method: 'GET', path: `/portfolio/${ACCT}/positions/0`, requires: 'portfolio' }));
        break;
      case 8:
        jobs.push(() => client.api.requestRaw({ method: 'GET', path: `/iserver/contract/${conid}/info`, requires: 'iserver' }));
        break;
      default:
        jobs.push(() => client.contracts.details([conid, STOCKS[(i + 1) % STOCKS.length]!]));
    }
  }
  const t0 = Date.now();
  let failed = 0;
  await Promise.all(jobs.map((j) => j().catch(() => failed++)));
  const elapsed = Date.now() - t0;
  const log = (await request(`${sim.url}/sim/requests`, { dispatcher: insecure, headers: { 'user-agent': 'bench' } }).then((r) => r.body.json())) as { at: number; status: number }[];
  const arrivals = log.map((e) => e.at);
  const n429 = log.filter((e) => e.status === 429).length;
  const span = (sends[sends.length - 1]! - sends[0]!) / 1000;
  const sustained = (sends.length - 1) / span;
  const result = {
    budget: rate,
    requests: sends.length,
    seconds: +(elapsed / 1000).toFixed(1),
    sustainedPerSec: +sustained.toFixed(2),
    shareOfBudget: `${((sustained / rate) * 100).toFixed(1)}%`,
    http429: n429,
    failed,
    maxSentInAnySecond: maxInAnyWindow(sends, 1000),
    maxArrivedInAnySecond: maxInAnyWindow(arrivals, 1000),
  };
  await client.close();
  await insecure.close();
  await sim.close();
  return result;
}

const results = [];
for (const rate of RATES) {
  process.stderr.write(`running ${N} requests at ${rate}/s (≈${Math.round(N / rate)} s)...\n`);
  const r = await run(rate);
  console.log(JSON.stringify(r));
  results.push(r);
}
console.table(results);
