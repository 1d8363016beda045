/**
 * Throughput of the gateway simulator with pacing off: starts `tandem sim` as a child process (one
 * Node process = one core for the server), then fires small requests over keep-alive HTTPS from this
 * process and prints requests per second per endpoint.
 *
 *   npx tsx bench/sim-throughput.ts [seconds-per-endpoint=3] [concurrency=32]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 32);
const bin = fileURLToPath(new URL('../bin/tandem.js', import.meta.url));

const child = spawn(process.execPath, [bin, 'sim', '--port', '0', '--json', '--no-pacing', '--authenticated', '--profile', 'ideal'], { stdio: ['ignore', 'pipe', 'inherit'] });
const first = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', resolve);
  child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
});
const { apiUrl } = JSON.parse(first) as { apiUrl: string };
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
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(34)} ${(ok / secs).toFixed(0).padStart(6)} req/s  (${ok} ok, ${failed} not 200, concurrency ${concurrency})`);
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
