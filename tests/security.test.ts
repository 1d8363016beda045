/**
 * Issue 12, item 7: no cleartext credentials, no secret shown back, private files, bounded bodies.
 * Real pieces: the `tandem` command as a child process, real files, a real HTTP server on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopbackHost, isLoopbackUrl } from '../src/util/loopback.ts';
import { isLoopbackHost as tlsIsLoopbackHost, resolveTls } from '../src/ibkr/tls.ts';
import { HttpTransport, ResponseTooLargeError } from '../src/ibkr/transport.ts';
import { IbkrClient } from '../src/ibkr/client.ts';
import { Journal } from '../src/store/journal.ts';
import { ContractCache } from '../src/ibkr/contract-cache.ts';
import { createLogger } from '../src/log/logger.ts';
import { tandem } from './helpers/cli-run.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tandem-security-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function engineYaml(name: string, gatewayUrl: string): string {
  writeFileSync(join(dir, 's.yaml'), pairStrategyYaml());
  const file = join(dir, name);
  writeFileSync(file, `kind: engine\ngateway:\n  url: "${gatewayUrl}"\ndataDir: ${join(dir, 'data')}\nstrategies: [s.yaml]\n`);
  return file;
}

describe('loopback', () => {
  it('security loopback: only literal loopback addresses and localhost count; *.localhost is not trusted', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '[::1]', '::1', 'LOCALHOST']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['foo.localhost', 'localhost.example.com', '127.0.0.1.nip.io', '128.0.0.1', '10.0.0.1', '127.0.0.256', 'example.com', '[::2]']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
    // The URL parser's normal forms: 127.1 and 0x7f000001 are 127.0.0.1; ::ffff:127.0.0.1 is mapped loopback.
    for (const u of ['http://127.1:5000', 'http://0x7f000001/', 'https://[::ffff:127.0.0.1]:5000', 'https://[0:0:0:0:0:0:0:1]/']) expect(isLoopbackUrl(u), u).toBe(true);
    expect(isLoopbackUrl('https://gw.localhost:5000')).toBe(false);
    // One owner: the TLS policy uses the same rule (a *.localhost gateway gets normal verification).
    expect(tlsIsLoopbackHost('gw.localhost')).toBe(false);
    expect(resolveTls(new URL('https://gw.localhost:5000'), undefined).mode).toBe('system');
    expect(() => resolveTls(new URL('http://gw.localhost:5000'), undefined)).toThrow(/plain http/);
    expect(resolveTls(new URL('http://127.0.0.1:5000'), undefined).mode).toBe('plain');
  });

  it('security plain http: refused off loopback in the config (with its line), on --gateway, and in the client', async () => {
    const file = engineYaml('http.yaml', 'http://gw.localhost:5000');
    const shown = await tandem(['config', 'show', '--config', file]);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toMatch(/http\.yaml:3:\d+/);
    expect(shown.stderr).toMatch(/plain http:\/\/ to gw\.localhost/);
    expect(shown.stderr).not.toMatch(/^\s+at /m);
    const ok = engineYaml('ok.yaml', 'https://127.0.0.1:9');
    const run = await tandem(['run', '--config', ok, '--gateway', 'http://10.9.8.7:5000'], { IBKR_PAPER_ACCOUNT_ID: 'DU1234567' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/gateway URL refused: plain http:\/\/ to 10\.9\.8\.7/);
    expect(() => new IbkrClient({ baseUrl: 'http://192.0.2.1:5000' })).toThrow(/plain http/);
  }, 120_000);
});

describe('secrets', () => {
  it('security secrets: a secret interpolated into the gateway URL is never printed by config show, run or doctor', async () => {
    const secret = 'Pa55-w0rd-xyz';
    const file = engineYaml('secret.yaml', 'https://demo:${IBKR_PASSWORD}@127.0.0.1:9');
    const token = engineYaml('token.yaml', 'https://127.0.0.1:9/?k=${GW_API_TOKEN}');
    const env = { IBKR_PASSWORD: secret, GW_API_TOKEN: 'tok-123456789', IBKR_PAPER_ACCOUNT_ID: 'DU1234567' };
    const outputs = await Promise.all([
      tandem(['config', 'show', '--config', file], env),
      tandem(['config', 'show', '--config', file, '--json'], env),
      tandem(['config', 'show', '--config', token], env),
      tandem(['run', '--config', file], env),
      tandem(['doctor', '--config', file], env),
    ]);
    for (const o of outputs) {
      const all = o.stdout + o.stderr;
      expect(all).not.toContain(secret);
      expect(all).not.toContain(encodeURIComponent(secret));
      expect(all).not.toContain('tok-123456789');
    }
    expect(outputs[0]!.stdout).toMatch(/\[redacted\]@127\.0\.0\.1/);
    expect(outputs[3]!.code).not.toBe(0); // nothing listens on port 9
    expect(outputs[3]!.stderr).toMatch(/127\.0\.0\.1/);
  }, 240_000);
});

describe('private files', () => {
  it('security files: journal (and its WAL), lock directory, contract cache and log file are 0600 in 0700 directories', () => {
    const base = join(dir, 'perm');
    const j = new Journal(join(base, 'data', 'journal.sqlite'));
    j.recordNewOrder({ cOID: 'c1', strategyId: 's', intentId: 'i', leg: 'y', conid: 1, symbol: 'A', side: 'BUY', quantity: 1, cashQty: null, orderType: 'MKT', tif: 'DAY' });
    const mode = (p: string): number => statSync(p).mode & 0o777;
    expect(mode(join(base, 'data'))).toBe(0o700);
    expect(mode(base)).toBe(0o700);
    expect(mode(join(base, 'data', 'journal.sqlite'))).toBe(0o600);
    expect(mode(join(base, 'data', 'journal.sqlite-wal'))).toBe(0o600);
    j.close();
    const cache = new ContractCache(join(base, 'cache', 'ibkr_contract_cache.json'));
    cache.set({ symbol: 'A', secType: 'STK', exchange: 'SMART', currency: 'USD' } as never, { conid: 1 } as never);
    expect(mode(join(base, 'cache'))).toBe(0o700);
    expect(mode(join(base, 'cache', 'ibkr_contract_cache.json'))).toBe(0o600);
    const logger = createLogger({ level: 'info', file: join(base, 'logs', 'tandem.log'), destination: { write: () => true } as never });
    logger.info('hello');
    logger.flush();
    expect(mode(join(base, 'logs'))).toBe(0o700);
  });

  it('security files: a dataDir that is a file is one clear error, not a stack trace', async () => {
    const notADir = join(dir, 'plainfile');
    writeFileSync(notADir, 'x');
    writeFileSync(join(dir, 's.yaml'), pairStrategyYaml());
    const file = join(dir, 'filedir.yaml');
    writeFileSync(file, `kind: engine\ngateway: { url: "https://127.0.0.1:9" }\ndataDir: ${notADir}\nstrategies: [s.yaml]\n`);
    const r = await tandem(['run', '--config', file], { IBKR_PAPER_ACCOUNT_ID: 'DU1234567' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a file, not a directory/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);
});

describe('response body cap', () => {
  let server: Server;
  let url: string;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      const size = req.url?.includes('/small') ? 2048 : 17 * 1024 * 1024;
      res.writeHead(200, { 'content-type': 'application/json', ...(req.url?.includes('declared') ? { 'content-length': String(size) } : {}) });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          const n = Math.min(chunk.length, size - sent);
          sent += n;
          if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('security body cap: a body over the cap is refused (declared or streamed), not retried; the default is 16 MiB', async () => {
    const t = new HttpTransport({ baseUrl: url, maxBodyBytes: 1024 });
    await expect(t.send({ method: 'GET', path: '/small' })).rejects.toBeInstanceOf(ResponseTooLargeError);
    await expect(t.send({ method: 'GET', path: '/small-declared' })).rejects.toThrow(/larger than/);
    await t.close();
    // Through the whole client: an idempotent read is retried on 5xx, but not on this.
    const client = new IbkrClient({ baseUrl: url, retryBaseMs: 10 });
    expect(client.transport.maxBodyBytes).toBe(16 * 1024 * 1024);
    hits = 0;
    await expect(client.session.status()).rejects.toMatchObject({ name: 'ResponseTooLargeError', retryable: false });
    expect(hits).toBe(1);
    await client.close();
  }, 120_000);
});
