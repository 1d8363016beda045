/**
 * Real gateway behaviour (issue 11): answers that real Client Portal gateways gave to other people,
 * reproduced by the simulator's `realistic` profile, met by the client, the IBKR broker and the order
 * manager over HTTPS/WSS on loopback. One test per behaviour; the source of each is in
 * docs/ibkr-client.md ("Real gateway behaviour").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { IbkrClient } from '../src/ibkr/client.ts';
import { OrderRejectedError } from '../src/ibkr/errors.ts';
import { runDoctor } from '../src/ibkr/doctor.ts';
import type { Quote } from '../src/ibkr/market-data.ts';
import type { LiveOrder } from '../src/ibkr/orders.ts';
import { IbkrBroker } from '../src/brokers/ibkr-broker.ts';
import type { BrokerOrder, Fill, Tick } from '../src/brokers/types.ts';
import { OrderManager } from '../src/engine/order-manager.ts';
import { Portfolio } from '../src/engine/portfolio.ts';

/** One strategy's book ('s') of 100,000, as the node sets it up. */
function bookedPortfolio(): Portfolio {
  const p = new Portfolio();
  p.addBook('s', 100_000);
  return p;
}
import { Journal } from '../src/store/journal.ts';
import { createLogger, type Logger } from '../src/log/logger.ts';
import { simHook, waitFor } from './helpers/engine-harness.ts';

const AAPL = 265598;
const BTC = 479624278;
const ACCT = 'DU1234567';
/** Tuesday 3 March 2026, 22:00 New York: US stocks closed, crypto trading. */
const NIGHT = Date.UTC(2026, 2, 4, 3, 0);
/** Tuesday 3 March 2026, 10:30 New York. */
const RTH = Date.UTC(2026, 2, 3, 15, 30);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sim(o: SimOptions = {}): Promise<RunningSimulator> {
  const s = await startSimulator({ authenticated: true, seed: 11, startTime: RTH, pacing: false, ...o, realism: { noBridgeMs: 0, ...o.realism } });
  cleanups.push(() => s.close());
  return s;
}

function client(s: RunningSimulator, logger?: Logger, extra: Partial<ConstructorParameters<typeof IbkrClient>[0]> = {}): IbkrClient {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-i11-'));
  const c = new IbkrClient({ baseUrl: s.url, timeoutMs: 12_000, retryBaseMs: 50, dataDir: dir, ...(logger ? { logger } : {}), ...extra });
  cleanups.push(async () => {
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return c;
}

/** A connected client and an IBKR broker on it, trading the simulator's paper account. */
async function brokerOn(s: RunningSimulator, logger?: Logger): Promise<{ c: IbkrClient; broker: IbkrBroker }> {
  const c = client(s);
  await c.connect();
  const broker = new IbkrBroker({ client: c, ...(logger ? { logger } : {}) });
  broker.useAccount(ACCT);
  return { c, broker };
}

function captureLogger(level = 'warn') {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString('utf8')); cb(); } });
  return { logger: createLogger({ level, pretty: false, destination }), lines };
}

function orderManager(broker: IbkrBroker, logger?: Logger) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-i11-om-'));
  const journal = new Journal(join(dir, 'journal.sqlite'));
  cleanups.push(() => {
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const om = (prefix = 'i11') => new OrderManager({ broker, journal, portfolio: bookedPortfolio(), coidPrefix: prefix, pollMs: 200, resolveTimeoutMs: 3_000, ...(logger ? { logger } : {}) });
  return { journal, om };
}

/** Repeats an async read until its answer satisfies `ok`. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type SimOrder = { orderId: number; cOID?: string; status: string; filledQty: number };

describe('real gateway behaviour', () => {
  it('real gateway 1: an advanced order reject is a rejection (prompt text kept), unless the reply policy allows its option', async () => {
    const s = await sim();
    await simHook(s.url, '/sim/faults', 'POST', { spec: `prompt=${AAPL}:2` });
    const c = client(s);
    await c.connect();
    const err = await c.orders.place({ accountId: ACCT, conid: AAPL, side: 'BUY', type: 'MKT', quantity: 1, cOID: 'adv-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrderRejectedError);
    expect((err as Error).message).toMatch(/advanced order reject p12: If your order is not immediately executable.*Price Management Algo/s);
    let orders = await simHook<SimOrder[]>(s.url, '/sim/orders');
    expect(orders.filter((o) => o.cOID === 'adv-1')).toEqual([]); // never resubmitted silently
    const log = await simHook<{ path: string }[]>(s.url, '/sim/requests');
    expect(log.some((r) => r.path.endsWith('/iserver/notification'))).toBe(false);

    // Through the broker the rejection carries the prompt, which the order manager journals.
    const broker = new IbkrBroker({ client: c });
    broker.useAccount(ACCT);
    const { journal, om } = orderManager(broker);
    const inst = { symbol: 'AAPL', secType: 'STK' as const, exchange: 'SMART', currency: 'USD', conid: AAPL };
    const o = await om().place('s', 'intent-1', 'y', { instrument: inst, side: 'BUY', quantity: 1, orderType: 'MKT', tif: 'DAY' });
    expect(o.state).toBe('rejected');
    expect(journal.order(o.cOID)!.lastError).toMatch(/p12.*Price Management Algo/s);

    // A policy that allows "Use on this order" answers it and reads the order back by status.
    const allowing = client(s, undefined, { replyPolicy: { allowPromptOptions: ['Use on this order'] } });
    await allowing.connect();
    await simHook(s.url, '/sim/faults', 'POST', { spec: `prompt=${AAPL}` });
    const placed = await allowing.orders.place({ accountId: ACCT, conid: AAPL, side: 'BUY', type: 'MKT', quantity: 1, cOID: 'adv-2' });
    orders = await simHook<SimOrder[]>(s.url, '/sim/orders');
    expect(orders.filter((x) => x.cOID === 'adv-2').map((x) => x.orderId)).toEqual([placed.orderId]);
  }, 60_000);

  it('real gateway 2: empty live orders at night prove nothing — a working order is never rejected at start-up, an unsent one is proven absent by a same-cOID resend', async () => {
    const s = await sim({ startTime: NIGHT });
    const { c, broker } = await brokerOn(s);
    const { journal, om } = orderManager(broker);
    const aapl = { symbol: 'AAPL', secType: 'STK' as const, exchange: 'SMART', currency: 'USD', conid: AAPL };
    const first = om();
    first.registerInstrument(aapl);
    // A stock order at night is held (working); the gateway's live orders answer empty.
    const working = await first.place('s', 'i-1', 'y', { instrument: aapl, side: 'BUY', quantity: 2, orderType: 'MKT', tif: 'DAY' });
    expect(working.state).toBe('working');
    expect(await c.orders.liveOrders({ force: true })).toEqual([]);
    expect((await c.orders.lookup(working.cOID)).kind).toBe('unknown'); // not "absent"

    // Restart: reconciliation keeps it working (found by order status, its id is journalled).
    const second = om();
    second.registerInstrument(aapl);
    await second.recoverOpenOrders();
    expect(journal.order(working.cOID)!.state).toBe('working');

    // A journalled order that never reached the gateway (crash before sending): proven absent by
    // sending it once under the SAME cOID; one that did reach it: the resend is refused as a duplicate.
    const unsent = 'i11-unsent-1';
    const sentButLost = 'i11-lost-1';
    for (const cOID of [unsent, sentButLost]) {
      journal.recordNewOrder({ cOID, strategyId: 's', intentId: 'i-2', leg: 'y', conid: AAPL, symbol: 'AAPL', side: 'BUY', quantity: 1, cashQty: null, orderType: 'MKT', tif: 'DAY' });
    }
    await c.orders.place({ accountId: ACCT, conid: AAPL, side: 'BUY', type: 'MKT', quantity: 1, cOID: sentButLost });
    await second.recoverOpenOrders();
    const orders = await simHook<SimOrder[]>(s.url, '/sim/orders');
    const count = (cOID: string) => orders.filter((o) => o.cOID === cOID).length;
    expect([count(working.cOID), count(unsent), count(sentButLost)]).toEqual([1, 1, 1]);
    expect(journal.order(unsent)!.state).toBe('working');
    expect(journal.order(sentButLost)!.state).toBe('unknown'); // exists (duplicate) but not visible: not rejected
  }, 240_000);

  it('real gateway 3: executions without order_id and with conidex are attributed by order_ref, never booked on conid 0; a manual trade is logged, not adopted', async () => {
    const s = await sim({ startTime: NIGHT });
    const { logger, lines } = captureLogger('warn');
    const { c, broker } = await brokerOn(s, logger);
    const { journal, om } = orderManager(broker, logger);
    const m = om();
    const btc = { symbol: 'BTC', secType: 'CRYPTO' as const, exchange: 'PAXOS', currency: 'USD', conid: BTC };
    m.registerInstrument(btc);
    const streamFills: Fill[] = [];
    await broker.subscribe([btc], { onFill: (f) => { streamFills.push(f); m.onBrokerFill(f); }, onOrder: (o) => m.onBrokerOrder(o) });
    const placed = await m.place('s', 'i-3', 'y', { instrument: btc, side: 'BUY', cashQty: 500, orderType: 'MKT', tif: 'IOC' });
    const settled = await m.settle(placed.cOID, 30_000);
    expect(settled.state).toBe('filled');

    // The first trades read of a session may be empty (§11 item 21): read until it shows the fill.
    const ours = (await until(() => c.orders.trades(1), (rows) => rows.some((r) => r.orderRef === placed.cOID), 20_000, 'the executions'))
      .filter((r) => r.orderRef === placed.cOID);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((r) => r.orderId === undefined && r.conid === BTC)).toBe(true); // the gateway sent no order_id
    await waitFor(() => streamFills.length > 0, 20_000, 'the str frame');
    expect(streamFills.every((f) => f.conid === BTC && f.cOID === placed.cOID)).toBe(true); // conidex → conid
    expect(journal.fills().every((f) => f.conid === BTC && f.cOID === placed.cOID)).toBe(true);

    // Without order_ref: conid + side + time against orders in flight.
    const inFlight = m.inFlight();
    expect(inFlight).toEqual([]);
    const held = await m.place('s', 'i-4', 'y', { instrument: { ...btc, conid: AAPL, symbol: 'AAPL', secType: 'STK' }, side: 'BUY', quantity: 3, orderType: 'MKT', tif: 'DAY' });
    m.onBrokerFill({ execId: 'x-fallback', brokerOrderId: '', conid: AAPL, side: 'BUY', qty: 1, price: 100, commission: 1, time: Date.now() });
    expect(journal.fills().find((f) => f.execId === 'x-fallback')?.cOID).toBe(held.cOID);

    // A trade entered elsewhere (no order_ref): logged loudly, never adopted.
    await simHook(s.url, '/sim/manual-trade', 'POST', { conid: BTC, side: 'SELL', quantity: 0.001 });
    await waitFor(() => lines.some((l) => /UNMATCHED FILL/.test(l)), 20_000, 'the unmatched fill to be logged');
    expect(journal.fills().filter((f) => f.cOID !== placed.cOID && f.execId !== 'x-fallback')).toEqual([]);
  }, 90_000);

  it('real gateway 4: smd deltas — a tick only when the last price or the cumulative volume changes, sized by the volume', async () => {
    const s = await sim({ startTime: NIGHT, speed: 20 });
    const { c, broker } = await brokerOn(s);
    const frames: Record<string, unknown>[] = [];
    c.stream.on('message', (m) => { if (m.topic === `smd+${BTC}`) frames.push(m); });
    const ticks: Tick[] = [];
    const btc = { symbol: 'BTC', secType: 'CRYPTO' as const, exchange: 'PAXOS', currency: 'USD', conid: BTC };
    await broker.subscribe([btc], { onTick: (t) => ticks.push(t) });
    await waitFor(() => frames.length > 0, 30_000, 'the first quote frame');
    // A constant price: the last price stops moving while bid/ask and sizes still change, so most
    // frames carry no field 31 (only changed fields are sent, §8.5).
    await simHook(s.url, '/sim/price', 'POST', { conid: BTC, price: 90_000 });
    await waitFor(() => frames.length >= 20, 60_000, 'twenty quote frames');
    // Frames and ticks are counted in the same synchronous frame handler: read both at once.
    const seen = frames.slice();
    const tickCount = ticks.length;
    let last: string | undefined;
    let vol: number | undefined;
    let trades = 0;
    for (const f of seen) {
      const v = f['7762'] !== undefined ? Number(f['7762']) : undefined;
      const moved = '31' in f && f['31'] !== last;
      const grew = v !== undefined && vol !== undefined && v > vol;
      if ('31' in f) last = String(f['31']);
      if (v !== undefined) vol = v;
      if (moved || grew) trades++;
    }
    expect(tickCount).toBe(trades);
    expect(trades).toBeLessThan(seen.length); // the old merge made every frame a tick at the old price
    expect(ticks.every((t) => t.size === undefined || t.size > 0)).toBe(true);
  }, 90_000);

  it('real gateway 5: C (previous close) and H (halted) prices are not trades; the broker says the instrument is not trading', async () => {
    const s = await sim({ startTime: NIGHT });
    const { logger, lines } = captureLogger('warn');
    const { c, broker } = await brokerOn(s, logger);
    const aapl = { symbol: 'AAPL', secType: 'STK' as const, exchange: 'SMART', currency: 'USD', conid: AAPL };
    const btc = { symbol: 'BTC', secType: 'CRYPTO' as const, exchange: 'PAXOS', currency: 'USD', conid: BTC };
    const [q] = await c.marketData.snapshot([AAPL]);
    expect(q!.lastFlag).toBe('prior-close');
    expect(await broker.snapshot([aapl])).toEqual([]); // the old adapter returned the prior close as a price
    expect(lines.some((l) => /not trading.*prefix C/.test(l))).toBe(true);
    expect((await broker.snapshot([btc])).length).toBe(1);
    await simHook(s.url, '/sim/halt', 'POST', { conid: BTC, halted: true });
    expect(await broker.snapshot([btc])).toEqual([]);
    expect(lines.some((l) => /HALTED/.test(l))).toBe(true);
  }, 60_000);

  it('real gateway 6: "no bridge" answered 400 is a session not ready yet: the order is placed once, never recorded as rejected', async () => {
    const s = await sim();
    const c = client(s);
    await c.connect();
    expect(s.core.opts.realism.noBridgeStatus).toBe(400);
    s.core.session.noBridgeUntil = Date.now() + 1_500; // as right after login / after a reset
    const placed = await c.orders.place({ accountId: ACCT, conid: AAPL, side: 'BUY', type: 'MKT', quantity: 1, cOID: 'nb-1' });
    expect(placed.orderId).toBeGreaterThan(0);
    const log = await simHook<{ path: string; method: string; status: number }[]>(s.url, '/sim/requests');
    expect(log.some((r) => r.method === 'POST' && r.path.endsWith('/orders') && r.status === 400)).toBe(true);
    const orders = await simHook<SimOrder[]>(s.url, '/sim/orders');
    expect(orders.filter((o) => o.cOID === 'nb-1').length).toBe(1);
  }, 60_000);

  it('real gateway 7: sor rows without totalSize and partial fills without avgPrice keep the last known values, never 0', async () => {
    const s = await sim({ partialFillParts: 3 });
    const { broker } = await brokerOn(s);
    const { journal, om } = orderManager(broker);
    const m = om();
    const aapl = { symbol: 'AAPL', secType: 'STK' as const, exchange: 'SMART', currency: 'USD', conid: AAPL };
    m.registerInstrument(aapl);
    const updates: BrokerOrder[] = [];
    await broker.subscribe([aapl], { onOrder: (o) => { updates.push(o); m.onBrokerOrder(o); }, onFill: (f) => m.onBrokerFill(f) });
    const placed = await m.place('s', 'i-7', 'y', { instrument: aapl, side: 'BUY', quantity: 9, orderType: 'MKT', tif: 'DAY' });
    const done = await m.settle(placed.cOID, 30_000);
    expect(done.state).toBe('filled');
    const mine = updates.filter((u) => u.cOID === placed.cOID);
    expect(mine.length).toBeGreaterThan(1);
    expect(mine.every((u) => u.totalQty === 9)).toBe(true); // filled + remaining, not 0
    expect(mine.every((u) => u.avgPrice === undefined || u.avgPrice > 0)).toBe(true);
    const fills = journal.fills().filter((f) => f.cOID === placed.cOID);
    const vwap = fills.reduce((a, f) => a + f.qty * f.price, 0) / fills.reduce((a, f) => a + f.qty, 0);
    const avg = journal.order(placed.cOID)!.avgPrice;
    expect(avg).toBeGreaterThan(0);
    expect(Math.abs(avg - vwap) / vwap).toBeLessThan(0.01);
  }, 60_000);

  it('real gateway 8: the websocket waits for sts before subscribing and re-sends a subscription until its first frame', async () => {
    const s = await sim({ startTime: NIGHT, realism: { wsGreetingDelayMs: 600 } });
    const c = client(s);
    await c.connect();
    const quotes: Quote[] = [];
    const orders: LiveOrder[] = [];
    c.stream.on('marketData', (q) => quotes.push(q));
    c.stream.on('order', (o) => orders.push(o));
    await c.stream.connect();
    c.stream.subscribeMarketData(BTC, ['31', '84', '86']);
    c.stream.subscribeOrders();
    expect(c.stream.isReady).toBe(false); // the greeting has not come: nothing sent yet
    await waitFor(() => quotes.length > 0, 30_000, 'a quote after the delayed greeting');
    await waitFor(() => !c.stream.pendingSubscriptions.includes(`smd+${BTC}`) && !c.stream.pendingSubscriptions.includes('sor'), 30_000, 'confirmations');
    // After a reconnect the subscriptions wait for the new greeting again, then data flows.
    await simHook(s.url, '/sim/ws/drop', 'POST', {});
    const before = quotes.length;
    await waitFor(() => quotes.length > before, 30_000, 'quotes after the reconnect');
  }, 90_000);

  it('real gateway 9: an advisor login lists All, groups and profiles: only real accounts are accounts, and doctor says which are not', async () => {
    const s = await sim({ realism: { advisorLogin: true } });
    const c = client(s);
    await c.connect();
    const a = await c.session.iserverAccounts();
    expect(a.accounts).toEqual([ACCT]);
    expect(a.notAccounts).toEqual(['All', 'PairsGroup', 'PairsProfile']);
    const broker = new IbkrBroker({ client: c });
    expect((await broker.accounts()).map((x) => x.id)).toEqual([ACCT]);
    const lines = await runDoctor(c, { paperAccounts: [ACCT] });
    const acc = lines.filter((l) => l.check === 'accounts');
    expect(acc.some((l) => l.status === 'ok')).toBe(true);
    expect(acc.some((l) => /All, PairsGroup, PairsProfile are not an account/.test(l.detail))).toBe(true);
  }, 60_000);
});
