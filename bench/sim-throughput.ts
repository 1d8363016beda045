/**
 * Throughput of the gateway simulator with pacing off: starts `tandem sim` as a child process (one
 * Node process = one core for the server), then fires small requests over keep-alive HTTPS from this
 * process and prints requests per second per endpoint.
 *
 *   npx tsx bench/sim-throughput.ts [seconds-per-endpoint=3] [concurrency=32]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 32);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), main, 'sim', '--port', '0', '--json', '--no-pacing', '--authenticated', '--profile', 'ideal'], { stdio: ['ignore', 'pipe', 'inherit'] });
const first = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', resolve);
  child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
});
const { apiUrl } = JSON.parse(first) as { apiUrl: string };
/** CPU seconds (user + system) the simulator process has used so far (Linux /proc; NaN elsewhere). */
function serverCpu(): number {
  try {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}
const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: concurrency, keepAliveTimeout: 30_000 });
const headers = { 'user-agent': 'tandem-bench/1.0' };

async function run(name: string, method: 'GET' | 'POST', path: string): Promise<void> {
  let ok = 0;
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const res = await request(`${apiUrl}${path}`, { method, headers, dispatcher: agent, ...(method === 'POST' ? { body: '' } : {}) });
      await res.body.text();
      if (res.statusCode === 200) ok++; else failed++;
    }
  };
  const t0 = performance.now();
  const cpu0 = serverCpu();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  const cpu = serverCpu() - cpu0;
  // Wall-clock rate depends on what else runs on the machine; the rate per CPU-second of the server
  // process is what one core sustains.
  console.log(`${name.padEnd(36)} ${(ok / secs).toFixed(0).padStart(6)} req/s wall, ${(ok / cpu).toFixed(0).padStart(6)} req per server CPU-second  (${ok} ok, ${failed} not 200, server CPU ${(100 * cpu / secs).toFixed(0)}%, concurrency ${concurrency})`);
}

try {
  await request(`${apiUrl}/iserver/accounts`, { headers, dispatcher: agent }).then((r) => r.body.text());
  // Warm-up (JIT, TLS sessions for every connection) before measuring.
  const warm = Date.now() + 1500;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < warm) await request(`${apiUrl}/tickle`, { method: 'POST', headers, body: '', dispatcher: agent }).then((r) => r.body.text());
  }));
  await run('POST /iserver/auth/status', 'POST', '/iserver/auth/status');
  await run('POST /tickle', 'POST', '/tickle');
  await run('GET /iserver/marketdata/snapshot (3)', 'GET', '/iserver/marketdata/snapshot?conids=265598,479624278,900000001&fields=31,84,86');
  await run('GET /iserver/account/orders', 'GET', '/iserver/account/orders');
} finally {
  child.kill('SIGTERM');
  await agent.close();
}
