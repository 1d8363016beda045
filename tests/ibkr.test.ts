/**
 * The IBKR client against a gateway: by default the simulator, started in-process; with
 * IBKR_GATEWAY_URL set, that gateway instead (read-only unless IBKR_TEST_ORDERS=paper and the
 * account is a paper DU… account). Tests that need the simulator's test hooks are skipped against a
 * real gateway, and real-gateway-only checks are skipped without one, each with the reason in its name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { startSimulator } from '../src/gateway-sim/index.ts';
import { createLogger } from '../src/log/logger.ts';
import { IbkrClient, type IbkrClientOptions } from '../src/ibkr/client.ts';
import { X509Certificate } from 'node:crypto';
import { resolveTls } from '../src/ibkr/tls.ts';
import {
  ContractNotFoundError,
  GatewayCertificateError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  NotAuthenticatedError,
  OrderQuestionRefusedError,
  OrderRejectedError,
} from '../src/ibkr/errors.ts';
import { maxInAnyWindow } from '../src/ibkr/pacing.ts';
import { runDoctor } from '../src/ibkr/doctor.ts';
import type { Quote } from '../src/ibkr/market-data.ts';
import type { LiveOrder } from '../src/ibkr/orders.ts';

const REAL_URL = process.env.IBKR_GATEWAY_URL;
const USE_SIM = !REAL_URL;
const REAL_ORDERS = process.env.IBKR_TEST_ORDERS === 'paper';
const SIM_ONLY = USE_SIM ? '' : ' [skipped: needs the simulator\'s test hooks; IBKR_GATEWAY_URL is set]';
const REAL_ONLY = REAL_URL ? '' : ' [skipped: set IBKR_GATEWAY_URL to run against a real gateway]';

const AAPL = 265598;
const SPY = 756733;
const BTC = 479624278;
const ETH = 495759171;

type Sim = Awaited<ReturnType<typeof startSimulator>>;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

/** Calls a simulator test hook (`/sim/...`). */
async function hook<T = unknown>(sim: Sim, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const origin = new URL(sim.url).origin;
  const res = await request(`${origin}${path}`, {
    method,
    dispatcher: insecure,
    headers: { 'user-agent': 'tandem-test', 'content-type': 'application/json' },
    body: body === undefined ? (method === 'POST' ? '{}' : undefined) : JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`hook ${method} ${path} → ${res.statusCode} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

function newClient(url: string, extra: Partial<IbkrClientOptions> = {}): IbkrClient {
  return new IbkrClient({ baseUrl: url, timeoutMs: 12_000, ...extra });
}

function captureLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ level: 'warn', pretty: false, destination }), lines };
}

async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Simulated start: Monday 00:10 New York. Stocks are closed (limit orders stay working, quotes carry the
 * prior close), crypto trades around the clock (market orders fill).
 */
const START = '2026-11-23T05:10:00Z';

describe('ibkr', () => {
  let sim: Sim | undefined;
  let url: string;
  let client: IbkrClient;
  let account: string;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'tandem-ibkr-'));
    if (USE_SIM) {
      sim = await startSimulator({ authenticated: true, seed: 7, startTime: START, realism: { noBridgeMs: 300 } });
      url = sim.url;
    } else {
      url = REAL_URL!;
    }
    client = newClient(url, { dataDir: tmp });
    await client.connect();
    account = client.session.brokerageAccounts!.selectedAccount ?? client.session.brokerageAccounts!.accounts[0]!;
  });

  afterAll(async () => {
    await client?.close();
    await sim?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('authentication', async () => {
    const s = await client.session.status();
    expect(s).toMatchObject({ authenticated: true, connected: true, competing: false });
    const t = await client.session.tickle();
    expect(t.session).toMatch(/^[0-9a-f]{8,}$/i);
    if (!sim) return;
    // From a gateway where nobody logged in: a typed error that says how to log in.
    const cold = await startSimulator({ seed: 3, realism: { noBridgeMs: 500 } });
    const c = newClient(cold.url);
    try {
      const err = await c.session.ensureBrokerage().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotAuthenticatedError);
      expect((err as Error).message).toMatch(/Log in by opening https:\/\/127\.0\.0\.1:\d+ in a browser/);
      // SSO only (logged in, brokerage not opened): ensureBrokerage runs ssodh/init, waits out "no bridge", primes.
      await hook(cold, 'POST', '/sim/login', { brokerage: false });
      expect((await c.session.status()).authenticated).toBe(false);
      const ok = await c.session.ensureBrokerage();
      expect(ok.authenticated).toBe(true);
      const state = await hook<{ session: { brokerage: boolean; accountsPrimed: boolean } }>(cold, 'GET', '/sim/state');
      expect(state.session).toMatchObject({ brokerage: true, accountsPrimed: true });
      // Right after ssodh/init the bridge was not up yet ("no bridge", HTTP 400 as on real gateways): the priming call was retried.
      const log = await hook<{ path: string; status: number }[]>(cold, 'GET', '/sim/requests');
      const priming = log.filter((e) => e.path === '/iserver/accounts');
      expect(priming.some((e) => e.status === 400)).toBe(true);
      expect(priming.at(-1)!.status).toBe(200);
    } finally {
      await c.close();
      await cold.close();
    }
  });

  it('account information', async () => {
    const b = client.session.brokerageAccounts!;
    expect(b.accounts.length).toBeGreaterThan(0);
    const accounts = await client.portfolio.accounts();
    const mine = accounts.find((a) => a.id === account);
    expect(mine).toBeDefined();
    if (sim) expect(mine!.isPaper).toBe(true);
    const summary = await client.portfolio.summary(account);
    expect(summary.netLiquidation).toBeGreaterThan(0);
    expect(typeof summary.totalCash).toBe('number');
    const ledger = await client.portfolio.ledger(account);
    expect(ledger.map((l) => l.currency)).toContain('BASE');
  });

  it('contract discovery', async () => {
    const aapl = await client.contracts.resolve({ symbol: 'AAPL' });
    expect(aapl.conid).toBe(AAPL);
    expect(aapl.currency).toBe('USD');
    expect((await client.contracts.resolve({ symbol: 'spy', secType: 'ETF' })).conid).toBe(SPY);
    const btc = await client.contracts.resolve({ symbol: 'BTC', secType: 'CRYPTO' });
    expect(btc).toMatchObject({ conid: BTC, exchange: 'PAXOS', secType: 'CRYPTO' });
    expect((await client.contracts.resolve({ symbol: 'ETH', secType: 'CRYPTO', exchange: 'PAXOS' })).conid).toBe(ETH);
    for (const symbol of ['ETHA', 'ETHV']) {
      const etf = await client.contracts.resolve({ symbol, secType: 'STK' });
      expect(etf.conid).toBeGreaterThan(0);
      expect(etf.symbol).toBe(symbol);
    }
    // Not found: the error lists what the gateway offered instead.
    const err = await client.contracts.resolve({ symbol: 'BTC', secType: 'CRYPTO', exchange: 'NOSUCHVENUE' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractNotFoundError);
    expect((err as ContractNotFoundError).candidates.map((c) => c.conid)).toContain(BTC);
    expect((err as Error).message).toMatch(/Closest matches.*BTC \(conid 479624278/);
    const none = await client.contracts.resolve({ symbol: 'ZZZZNOTREAL' }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(ContractNotFoundError);
  });

  it('market data', async () => {
    // Pre-flight: the first raw call for a fresh conid carries no values; the client re-polls.
    const fresh = sim ? 272093 : AAPL; // MSFT: never quoted before in this session
    if (sim) {
      const [first] = await client.marketData.snapshotOnce([fresh]);
      expect(first!.last).toBeUndefined();
    }
    const quotes = await client.marketData.snapshot([fresh, BTC]);
    for (const q of quotes) {
      expect(q.last ?? q.bid).toBeGreaterThan(0);
      expect(q.availability).toMatch(/^[RDZY]/);
    }
    // History: six days of 1-minute bars (four trading days, ~1560 bars) need several pages of ≤1000 bars.
    const to = Date.parse(START);
    const from = to - 6 * 86_400_000;
    // (1.2 s per answer on the simulator, which does not cap concurrency itself: the client must.)
    const since = Date.now();
    if (sim) await hook(sim, 'POST', '/sim/faults', { spec: 'latency=1200', replace: true });
    const bars = await client.marketData.history(AAPL, { bar: '1min', from, to });
    if (sim) {
      await hook(sim, 'DELETE', '/sim/faults');
      const log = await hook<{ at: number; ms: number; path: string }[]>(sim, 'GET', `/sim/requests?since=${since}`);
      const pages = log.filter((e) => e.path.startsWith('/iserver/marketdata/history'));
      expect(pages.length).toBeGreaterThan(2);
      const overlap = Math.max(...pages.map((p) => pages.filter((q) => q.at <= p.at && q.at + q.ms > p.at).length));
      expect(overlap).toBeGreaterThan(1); // pages do run in parallel...
      expect(overlap).toBeLessThanOrEqual(5); // ...but never more than 5 at a time
    }
    expect(bars.length).toBeGreaterThan(1000);
    for (let i = 1; i < bars.length; i++) expect(bars[i]!.t).toBeGreaterThan(bars[i - 1]!.t);
    expect(bars.every((b) => b.h >= b.l && b.t >= from && b.t < to)).toBe(true);
    // Websocket: smd quotes arrive, merged.
    await client.stream.connect();
    const got: Quote[] = [];
    const onQuote = (q: Quote) => got.push(q);
    client.stream.on('marketData', onQuote);
    client.stream.subscribeMarketData(BTC, ['31', '84', '86']);
    const q = await waitFor('an smd quote', () => got.find((x) => x.conid === BTC && x.last !== undefined));
    expect(q.last).toBeGreaterThan(0);
    client.stream.off('marketData', onQuote);
    client.stream.unsubscribeMarketData(BTC);
  });

  it('positions and orders', async () => {
    const positions = await client.portfolio.positions(account);
    expect(Array.isArray(positions)).toBe(true);
    for (const p of positions) expect(Number.isFinite(p.quantity)).toBe(true);
    const live = await client.orders.liveOrders();
    expect(Array.isArray(live)).toBe(true);
    const trades = await client.orders.trades(1);
    expect(Array.isArray(trades)).toBe(true);
  });

  it('portfolio sync', async () => {
    const pic = await client.portfolio.sync(account);
    expect(pic.accountId).toBe(account);
    expect(pic.cash.BASE ?? pic.cash.USD).toBeDefined();
    expect(pic.netLiquidation).toBeGreaterThan(0);
    expect(pic.attempts).toBeGreaterThanOrEqual(1);
    for (const o of pic.openOrders) expect(['Filled', 'Cancelled', 'Inactive']).not.toContain(o.status);
  });

  const canTrade = USE_SIM || REAL_ORDERS;
  it.skipIf(!canTrade)(
    `order placement${canTrade ? '' : ' [skipped: real gateway is read-only unless IBKR_TEST_ORDERS=paper]'}`,
    async () => {
      if (!sim) expect(account, 'IBKR_TEST_ORDERS=paper needs a paper (DU…) account').toMatch(/^DU/);
      await client.stream.connect();
      const updates: LiveOrder[] = [];
      client.stream.on('order', (o) => updates.push(o));
      client.stream.subscribeOrders();
      const [spy] = await client.marketData.snapshot([SPY]);
      // A limit buy 10% under the market: working, with a price-constraint question on the way.
      const limit = Math.round(spy!.last! * 0.9 * 100) / 100;
      // Two orders at once: each has a question chain, and any other order call would invalidate a
      // pending reply id; per-account serialization keeps the chains apart. (A 50 ms answer latency
      // on the simulator makes the two overlap for sure if they were not serialized.)
      if (sim) await hook(sim, 'POST', '/sim/faults', { spec: 'latency=50', replace: true });
      const [placed, second] = await Promise.all([
        client.orders.place({ accountId: account, conid: SPY, side: 'BUY', type: 'LMT', quantity: 1, price: limit }),
        client.orders.place({ accountId: account, conid: SPY, side: 'BUY', type: 'LMT', quantity: 1, price: limit }),
      ]);
      expect(second.orderId).not.toBe(placed.orderId);
      if (sim) {
        await hook(sim, 'DELETE', '/sim/faults');
        // No reply id was invalidated and nothing had to be re-sent.
        const log = await hook<{ method: string; path: string; status: number }[]>(sim, 'GET', '/sim/requests');
        expect(log.filter((e) => e.path.startsWith('/iserver/reply/') && e.status !== 200)).toEqual([]);
        expect(log.filter((e) => e.method === 'POST' && /\/orders$/.test(e.path))).toHaveLength(2);
      }
      await client.orders.cancel(account, second.orderId);
      expect(placed.resolvedBy).toBe('placement');
      expect(placed.orderId).toBeGreaterThan(0);
      if (sim) expect(placed.confirmed.flatMap((c) => c.messageIds)).toContain('o163');
      await client.orders.cancel(account, placed.orderId);
      const cancelled = await waitFor('the cancel in sor', () => updates.find((u) => u.orderId === placed.orderId && u.status === 'Cancelled'));
      expect(cancelled.status).toBe('Cancelled');
      // Crypto market buy: notional + IOC; it fills.
      const btc = await client.orders.place({ accountId: account, conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 1000 });
      const st = await waitFor('the BTC fill', async () => {
        const s = await client.orders.status(btc.orderId);
        return s.status === 'Filled' ? s : undefined;
      });
      expect(st.avgPrice).toBeGreaterThan(0);
      if (sim) {
        const simOrders = await hook<{ cOID?: string; conidex?: string; cashQty?: number; tif?: string }[]>(sim, 'GET', '/sim/orders');
        const ticket = simOrders.find((o) => o.cOID === btc.cOID);
        expect(ticket).toMatchObject({ cashQty: 1000, tif: 'IOC' });
        // Combo order of a US stock pair (§6.11).
        const combo = await client.orders.placeCombo({ accountId: account, legs: [{ conid: SPY, ratio: 1 }, { conid: AAPL, ratio: -1 }], side: 'BUY', type: 'MKT', quantity: 1 });
        expect(combo.orderId).toBeGreaterThan(0);
        const after = await hook<{ cOID?: string; conidex?: string }[]>(sim, 'GET', '/sim/orders');
        expect(after.find((o) => o.cOID === combo.cOID)?.conidex).toBe(`28812380;;;${SPY}/1,${AAPL}/-1`);
      }
      const trades = await waitFor('the BTC execution', async () => (await client.orders.trades(1)).find((t) => t.cOID === btc.cOID));
      expect(trades.side).toBe('BUY');
    },
    90_000,
  );

  it.skipIf(!REAL_URL)(`doctor against the real gateway${REAL_ONLY}`, async () => {
    const lines = await runDoctor(client, { paperAccounts: account.startsWith('DU') ? [account] : [], instruments: [{ symbol: 'SPY' }] });
    expect(lines.filter((l) => l.status === 'fail')).toEqual([]);
  });

  it('doctor checklist', { timeout: 60_000 }, async () => {
    const lines = await runDoctor(client, { paperAccounts: sim ? ['DU1234567', 'DU0000000'] : [], instruments: [{ symbol: 'AAPL' }, { symbol: 'NOPE', secType: 'CRYPTO' }] });
    const by = Object.fromEntries(lines.map((l) => [l.check, l]));
    expect(by['gateway reachable']!.status).toBe('ok');
    expect(by['TLS']!.detail).toMatch(/loopback|fingerprint|CA/);
    expect(by['brokerage session']!.status).toBe('ok');
    if (sim) expect(by['accounts']).toMatchObject({ status: 'fail', detail: expect.stringContaining('DU0000000') });
    expect(by['instruments']).toMatchObject({ status: 'fail', fix: expect.stringContaining('strategy config') });
    if (sim) {
      // The CLI with a strategy config: account of the mode from the environment, legs of the strategy.
      const run = promisify(execFile);
      const out = await run(
        'npx',
        ['tsx', 'src/main.ts', 'doctor', '--config', 'configs/strategies/cointegration_btc_eth.yaml', '--gateway', url, '--data-dir', tmp, '--json'],
        { encoding: 'utf8', env: { ...process.env, IBKR_PAPER_ACCOUNT_ID: 'DU1234567', DOTENV_CONFIG_QUIET: 'true' } },
      );
      const cli = JSON.parse(out.stdout) as { check: string; status: string; detail: string }[];
      expect(cli.find((l) => l.check === 'accounts')).toMatchObject({ status: 'ok', detail: 'present: DU1234567' });
      expect(cli.find((l) => l.check === 'instruments')).toMatchObject({ status: 'ok', detail: `BTC=${BTC}, ETH=${ETH}` });
      expect(cli.find((l) => l.check === 'market data')?.status).toBe('ok');
    }
    const down = newClient('https://127.0.0.1:9', { retries: 0 });
    const d = await runDoctor(down);
    expect(d[0]).toMatchObject({ check: 'gateway reachable', status: 'fail', fix: expect.stringContaining('java') });
    await down.close();
  });

  it.skipIf(!USE_SIM)(`TLS pinning: fingerprint, CA file, loopback-only self-signed${SIM_ONLY}`, async () => {
    const fp = new X509Certificate(sim!.certPem).fingerprint256;
    const pinned = newClient(url, { tls: { fingerprint: fp.replace(/:/g, '').toLowerCase() } });
    expect(pinned.transport.tls.mode).toBe('fingerprint');
    expect((await pinned.session.tickle()).session).toBeTruthy();
    // The websocket trusts exactly the pinned certificate too.
    await pinned.stream.connect();
    expect(pinned.stream.isOpen).toBe(true);
    await pinned.close();
    const wrong = newClient(url, { tls: { fingerprint: 'AA:'.repeat(31) + 'AA' }, retries: 0 });
    const err = await wrong.session.tickle().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayCertificateError);
    expect((err as Error).message).toMatch(/does not match the pinned/);
    await wrong.close();
    const caFile = join(tmp, 'gateway.pem');
    writeFileSync(caFile, sim!.certPem);
    const withCa = newClient(url, { tls: { caFile } });
    expect(withCa.transport.tls).toMatchObject({ mode: 'ca', rejectUnauthorized: true });
    expect((await withCa.session.tickle()).session).toBeTruthy();
    await withCa.close();
    // Without a pin, only loopback hosts accept a self-signed certificate.
    expect(resolveTls(new URL('https://localhost:5000/v1/api'), undefined)).toMatchObject({ mode: 'loopback-self-signed', rejectUnauthorized: false });
    expect(resolveTls(new URL('https://10.1.2.3:5000/v1/api'), undefined)).toMatchObject({ mode: 'system', rejectUnauthorized: true });
    expect(() => resolveTls(new URL('https://10.1.2.3:5000'), { fingerprint: 'nope' })).toThrow(/64 hex digits/);
  });

  it('contract cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-cc-'));
    try {
      const c1 = newClient(url, { dataDir: dir });
      const btc = await c1.contracts.resolve({ symbol: 'BTC', secType: 'CRYPTO' });
      await c1.close();
      const file = join(dir, 'ibkr_contract_cache.json');
      const body = JSON.parse(readFileSync(file, 'utf8'));
      expect(body.kind).toBe('tandem-ibkr-contract-cache');
      expect(Object.values(body.entries)).toContainEqual(expect.objectContaining({ conid: btc.conid, symbol: 'BTC' }));
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      // Served from the file: a client pointing at nothing still resolves it.
      const offline = newClient('https://127.0.0.1:9', { dataDir: dir, retries: 0 });
      expect((await offline.contracts.resolve({ symbol: 'btc', secType: 'CRYPTO' })).conid).toBe(btc.conid);
      await expect(offline.contracts.resolve({ symbol: 'AAPL' })).rejects.toBeInstanceOf(GatewayUnreachableError);
      await offline.close();
      // A corrupt file and a foreign file: warned about, set aside, rebuilt — never a crash.
      for (const junk of ['{not json', JSON.stringify({ kind: 'someone-else', entries: [] })]) {
        writeFileSync(file, junk);
        const { logger, lines } = captureLogger();
        const c2 = newClient(url, { dataDir: dir, logger });
        expect((await c2.contracts.resolve({ symbol: 'AAPL' })).conid).toBe(AAPL);
        await c2.close();
        expect(lines.join('')).toMatch(/contract cache .* ignored because/);
        expect(JSON.parse(readFileSync(file, 'utf8')).kind).toBe('tandem-ibkr-contract-cache');
      }
      // `tandem cache clear --data-dir DIR`
      const out = execFileSync('npx', ['tsx', 'src/main.ts', 'cache', 'clear', '--data-dir', dir], { encoding: 'utf8' });
      expect(out).toContain('Removed');
      expect(existsSync(file)).toBe(false);
      const again = execFileSync('npx', ['tsx', 'src/main.ts', 'cache', 'clear', '--data-dir', dir], { encoding: 'utf8' });
      expect(again).toContain('nothing to do');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  describe.skipIf(!USE_SIM)(`error handling${SIM_ONLY}`, () => {
    /** A fresh simulator per test: faults and pacing state do not leak between tests. */
    async function fresh(opts: Parameters<typeof startSimulator>[0] = {}, clientOpts: Partial<IbkrClientOptions> = {}) {
      const s = await startSimulator({ authenticated: true, seed: 11, startTime: START, realism: { noBridgeMs: 300 }, ...opts });
      const c = newClient(s.url, { retryBaseMs: 50, ...clientOpts });
      return { s, c, done: async () => { await c.close(); await s.close(); } };
    }

    it('error handling: 403 without User-Agent and 411 without Content-Length (the client sends both)', async () => {
      const { s, c, done } = await fresh();
      try {
        const origin = new URL(s.url).origin;
        const noUa = await request(`${origin}/v1/api/iserver/auth/status`, { method: 'POST', dispatcher: insecure, headers: { 'content-length': '0' } });
        await noUa.body.text();
        expect(noUa.statusCode).toBe(403);
        // undici always adds Content-Length; a raw request shows what a body-less POST gets.
        const status = await new Promise<string>((resolve, reject) => {
          const sock = tlsConnect({ host: '127.0.0.1', port: s.port, rejectUnauthorized: false }, () => {
            sock.write(`POST /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nUser-Agent: x\r\nConnection: close\r\n\r\n`);
          });
          let buf = '';
          sock.on('data', (d: Buffer) => (buf += d.toString('utf8')));
          sock.on('end', () => resolve(buf.split('\r\n')[0] ?? ''));
          sock.on('error', reject);
        });
        expect(status).toMatch(/^HTTP\/1\.1 411/);
        expect((await c.session.tickle()).session).toBeTruthy();
        expect((await c.session.status()).authenticated).toBe(true);
      } finally {
        await done();
      }
    });

    it('error handling: 5xx on reads are retried', async () => {
      const { s, c, done } = await fresh({ faults: 'error5xx=0.4' });
      try {
        await c.session.ensureBrokerage();
        for (let i = 0; i < 5; i++) expect((await c.contracts.details([AAPL]))[0]!.conid).toBe(AAPL);
        const log = await hook<{ status: number }[]>(s, 'GET', '/sim/requests');
        expect(log.filter((e) => e.status >= 500).length).toBeGreaterThan(0);
      } finally {
        await done();
      }
    });

    it('error handling: timeouts (hanging answers) are typed and reads retried', async () => {
      // Client time limits of 1.5 s: a hung answer never comes, and a busy machine answers the others well within.
      const { s, c, done } = await fresh({}, { timeoutMs: 1_500, retries: 0 });
      try {
        await c.session.ensureBrokerage();
        await hook(s, 'POST', '/sim/faults', { spec: 'hang=1', replace: true });
        const err = await c.contracts.details([AAPL]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GatewayTimeoutError);
        expect((err as Error).message).toContain('GET /trsrv/secdef');
        await hook(s, 'POST', '/sim/faults', { spec: 'hang=0.5', replace: true });
        const c2 = newClient(s.url, { timeoutMs: 1_500, retries: 8, retryBaseMs: 20 });
        for (let i = 0; i < 4; i++) expect((await c2.contracts.details([SPY]))[0]!.conid).toBe(SPY);
        await c2.close();
      } finally {
        await hook(s, 'DELETE', '/sim/faults').catch(() => undefined);
        await done();
      }
    }, 120_000);

    it('error handling: session drop mid-run is reported and recovered (re-primed)', async () => {
      const { s, c, done } = await fresh();
      try {
        await c.connect();
        const events: string[] = [];
        c.session.on('lost', (e) => events.push(`lost:${e.reason}`));
        c.session.on('restored', () => events.push('restored'));
        await c.marketData.snapshot([AAPL]);
        await hook(s, 'POST', '/sim/session/drop');
        await c.session.keepAliveTick(); // the timer's job, run now
        expect(events[0]).toMatch(/^lost:/);
        expect(events).toContain('restored');
        const state = await hook<{ session: { brokerage: boolean; accountsPrimed: boolean } }>(s, 'GET', '/sim/state');
        expect(state.session).toMatchObject({ brokerage: true, accountsPrimed: true });
        expect((await c.marketData.snapshot([AAPL]))[0]!.last).toBeGreaterThan(0);
        // A competing login is detected and the session taken back (compete:true).
        const competing: boolean[] = [];
        c.session.on('competing', (st) => competing.push(st.competing));
        await hook(s, 'POST', '/sim/session/competing');
        await c.session.keepAliveTick();
        expect(competing).toEqual([true]);
        expect((await c.session.status())).toMatchObject({ authenticated: true, competing: false });
        // A nightly reset: "Please query /accounts first" is handled by re-priming.
        await hook(s, 'POST', '/sim/session/reset');
        await c.session.recover();
        expect((await c.marketData.snapshot([SPY]))[0]!.conid).toBe(SPY);
        // A reset the client did not notice (the gateway re-opened the session by itself): the next
        // market-data call meets "Please query /accounts first", primes again and goes through.
        await hook(s, 'POST', '/sim/session/reset');
        await hook(s, 'POST', '/sim/login', { brokerage: true });
        const since = Date.now();
        expect((await c.marketData.snapshot([AAPL]))[0]!.conid).toBe(AAPL);
        const log = await hook<{ path: string; status: number }[]>(s, 'GET', `/sim/requests?since=${since}`);
        const paths = log.map((e) => `${e.status} ${e.path.split('?')[0]}`);
        const refused = paths.findIndex((p) => /^(400|500) \/iserver\/marketdata\/snapshot/.test(p));
        expect(refused).toBeGreaterThanOrEqual(0);
        expect(paths.slice(refused)).toContain('200 /iserver/accounts');
      } finally {
        await done();
      }
    });

    it('error handling: 429 backs off for the penalty and the client never exceeds its budget', async () => {
      const sends: number[] = [];
      const { s, c, done } = await fresh(
        { pacing: { enabled: true, globalPerSecond: 3, penaltyAfterViolations: 1000, perEndpoint: true } },
        { pacing: { onSend: (e) => sends.push(e.time) } },
      );
      try {
        await c.session.ensureBrokerage();
        const results = await Promise.all(Array.from({ length: 12 }, () => c.contracts.details([AAPL])));
        expect(results.every((r) => r[0]!.conid === AAPL)).toBe(true);
        const log = await hook<{ status: number }[]>(s, 'GET', '/sim/requests');
        expect(log.filter((e) => e.status === 429).length).toBeGreaterThan(0);
        expect(maxInAnyWindow(sends, 1000)).toBeLessThanOrEqual(10);
        // The budget was halved after the 429s (someone else uses part of it).
        expect(c.pacer.currentLimit).toBeLessThan(10);
      } finally {
        await done();
      }
    });

    it('error handling: websocket drop reconnects, resubscribes and fills the gap with history', async () => {
      const { s, c, done } = await fresh({ wsHeartbeatMs: 500 }, { stream: { reconnectBaseMs: 100, heartbeatTimeoutMs: 5000 } });
      try {
        await c.connect();
        await c.stream.connect();
        const quotes: Quote[] = [];
        c.stream.on('marketData', (q) => quotes.push(q));
        c.stream.subscribeMarketData(BTC, ['31', '84', '86']);
        await waitFor('a first quote', () => quotes.length > 0 || undefined);
        const reconnected = new Promise<{ from: number; to: number }>((r) => c.stream.once('reconnected', r));
        const filled = new Promise<{ bars: unknown[] }>((r) => c.stream.once('gapFilled', r));
        await hook(s, 'POST', '/sim/ws/drop');
        const gap = await reconnected;
        expect(gap.to).toBeGreaterThanOrEqual(gap.from);
        const n = quotes.length;
        await waitFor('quotes after the reconnect', () => quotes.length > n || undefined);
        const f = await filled;
        expect(Array.isArray(f.bars)).toBe(true);
        const log = await hook<{ path: string; at: number }[]>(s, 'GET', '/sim/requests');
        expect(log.some((e) => e.path.startsWith('/iserver/marketdata/history') && e.at >= gap.from)).toBe(true);
      } finally {
        await done();
      }
    });

    it('error handling: smd subscriptions that expire are renewed before their expiry', async () => {
      // The simulator ends smd subscriptions after 1.5 s here (10 minutes on the real gateway since 2026).
      const { c, done } = await fresh({ realism: { smdExpiryMs: 1500, noBridgeMs: 300 } }, { stream: { renewMs: 500 } });
      try {
        await c.connect();
        await c.stream.connect();
        const times: number[] = [];
        c.stream.on('marketData', (q) => q.conid === ETH && times.push(Date.now()));
        const t0 = Date.now();
        c.stream.subscribeMarketData(ETH, ['31', '84', '86']);
        // Quotes still come well past the expiry (only a renewed subscription gets them); the wait
        // ends at the first one, its bound is for a loaded machine.
        await waitFor('a quote after the expiry', () => times.some((t) => t - t0 > 3000) || undefined, 30_000);
      } finally {
        await done();
      }
    });

    it('error handling: order rejections, refused questions and bounded reply chains', async () => {
      const { s, c, done } = await fresh({}, { replyPolicy: { refuseMessageIds: ['o163'] } });
      try {
        await c.connect();
        await hook(s, 'POST', '/sim/faults', { spec: `reject=${BTC}` });
        const rej = await c.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 100 }).catch((e: unknown) => e);
        expect(rej).toBeInstanceOf(OrderRejectedError);
        // Accepted, then rejected downstream: the status turns Inactive.
        await hook(s, 'POST', '/sim/faults', { spec: `inactive=${BTC}` });
        const doomed = await c.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 100 });
        const inactive = await waitFor('the Inactive status', async () => {
          const st = await c.orders.status(doomed.orderId);
          return st.status === 'Inactive' ? st : undefined;
        });
        expect(inactive.rawStatus).toBe('Inactive');
        const [spy] = await c.marketData.snapshot([SPY]);
        const far = Math.round(spy!.last! * 0.8 * 100) / 100;
        const refused = await c.orders.place({ accountId: 'DU1234567', conid: SPY, side: 'BUY', type: 'LMT', quantity: 1, price: far, cOID: 'refuse-1' }).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(OrderQuestionRefusedError);
        expect((refused as OrderQuestionRefusedError).messageIds).toContain('o163');
        const orders = await hook<{ cOID?: string }[]>(s, 'GET', '/sim/orders');
        expect(orders.find((o) => o.cOID === 'refuse-1')).toBeUndefined();
        const c2 = newClient(s.url, { replyPolicy: { maxChainLength: 0 } });
        const bounded = await c2.orders.place({ accountId: 'DU1234567', conid: SPY, side: 'BUY', type: 'LMT', quantity: 1, price: far }).catch((e: unknown) => e);
        expect(bounded).toBeInstanceOf(OrderQuestionRefusedError);
        expect((bounded as Error).message).toMatch(/more than 0 questions/);
        await c2.close();
      } finally {
        await done();
      }
    });

    it('error handling: expired reply ids are resolved by lookup, never a double order', async () => {
      // Replies expire after 1 ms and every answer takes 5 ms: each reply id is stale when it arrives.
      const { s, c, done } = await fresh({ realism: { replyTtlMs: 1, noBridgeMs: 300 }, faults: 'latency=5' }, { orderLookupReads: 1 });
      try {
        await c.connect();
        const [spy] = await c.marketData.snapshot([SPY]);
        const far = Math.round(spy!.last! * 0.8 * 100) / 100;
        const err = await c.orders.place({ accountId: 'DU1234567', conid: SPY, side: 'BUY', type: 'LMT', quantity: 1, price: far, cOID: 'ttl-1' }).catch((e: unknown) => e);
        // Every reply expires in this setup: the lookup proves it absent, one re-send, then a clear error.
        expect(err).toBeInstanceOf(OrderRejectedError);
        expect((err as Error).message).toMatch(/reply id/i);
        const orders = await hook<{ cOID?: string }[]>(s, 'GET', '/sim/orders');
        expect(orders.filter((o) => o.cOID === 'ttl-1')).toHaveLength(0);
        const placements = (await hook<{ method: string; path: string }[]>(s, 'GET', '/sim/requests')).filter((e) => e.method === 'POST' && /\/orders$/.test(e.path));
        expect(placements).toHaveLength(2); // the lookup proved it absent once: one re-send, no more
      } finally {
        await done();
      }
    }, 90_000);

    it('error handling: duplicate cOID and a 503 on a placement that went through resolve to the one order', async () => {
      // Questions suppressed at start-up (the simulator's 503 fault applies to direct acceptances).
      const { s, c, done } = await fresh({}, { timeoutMs: 5000, replyPolicy: { suppressAtStart: ['o10288', 'o10164', 'o10223', 'o354', 'o10151'] } });
      try {
        await c.connect();
        const first = await c.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 200, cOID: 'dup-1' });
        const again = await c.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 200, cOID: 'dup-1' });
        // At this hour live orders are empty (realistic, ibind #43): found by its executions' order_ref,
        // whose rows carry no order_id, so the order id is the one of the lookup or 0 (not known).
        expect(again).toMatchObject({ cOID: 'dup-1', resolvedBy: 'lookup' });
        expect([first.orderId, 0]).toContain(again.orderId);
        await hook(s, 'POST', '/sim/faults', { spec: 'order503=1,order503Delay=300' });
        const hidden = await c.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 300, cOID: 'hidden-1' });
        expect(hidden.resolvedBy).toBe('lookup');
        const orders = await hook<{ cOID?: string; orderId?: number; id?: number }[]>(s, 'GET', '/sim/orders');
        expect(orders.filter((o) => o.cOID === 'dup-1')).toHaveLength(1);
        const simHidden = orders.filter((o) => o.cOID === 'hidden-1');
        expect(simHidden).toHaveLength(1);
        const placements = (await hook<{ method: string; path: string }[]>(s, 'GET', '/sim/requests')).filter((e) => e.method === 'POST' && /\/orders$/.test(e.path));
        expect(placements).toHaveLength(3); // dup-1 twice (the second refused as duplicate), hidden-1 once: never re-sent
        // A placement whose answer never comes in time: timed out, then found by its cOID.
        await hook(s, 'POST', '/sim/faults', { spec: 'order503=1,order503Delay=3000', replace: true });
        const impatient = newClient(s.url, { timeoutMs: 1000, retries: 0 });
        const late = await impatient.orders.place({ accountId: 'DU1234567', conid: BTC, secType: 'CRYPTO', side: 'BUY', type: 'MKT', cashQty: 150, cOID: 'late-1' });
        await impatient.close();
        expect(late.resolvedBy).toBe('lookup');
        const all = await hook<{ cOID?: string }[]>(s, 'GET', '/sim/orders');
        expect(all.filter((o) => o.cOID === 'late-1')).toHaveLength(1);
      } finally {
        await done();
      }
    }, 180_000);
  });
});
