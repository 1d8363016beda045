/**
 * Simulator conformance: order placement, reply chains, suppression, rejections, lifecycle, fills,
 * live orders, status, trades, cancel, modify, partial fills, combos, positions. Reference §6, §7.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { clientFor, sleep } from './support/sim-http.ts';

const TUE_RTH = '2026-03-10T15:00:00Z';
const SAT = '2026-03-14T15:00:00Z';
const ACCT = 'DU1234567';
const AAPL = 265598;
const BTC = 479624278;

let sim: RunningSimulator | undefined;
async function start(o: SimOptions = {}) {
  sim = await startSimulator({ seed: 21, startTime: TUE_RTH, authenticated: true, pacing: false, ...o });
  const c = clientFor(sim);
  await c.api('GET', '/iserver/accounts');
  await c.api('GET', '/portfolio/accounts');
  return { sim, ...c };
}
afterEach(async () => { await sim?.close(); sim = undefined; });

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(50);
  }
}

type Api = ReturnType<typeof clientFor>['api'];
const place = (api: Api, order: Record<string, unknown>) => api('POST', `/iserver/account/${ACCT}/orders`, { body: { orders: [{ acctId: ACCT, ...order }] } });

/** Answers every question with confirmed:true; returns the final body and the message ids seen. */
async function placeConfirmed(api: Api, order: Record<string, unknown>) {
  let r = await place(api, order);
  const ids: string[] = [];
  for (let i = 0; i < 10 && Array.isArray(r.body) && r.body[0]?.id; i++) {
    ids.push(...r.body[0].messageIds);
    r = await api('POST', `/iserver/reply/${r.body[0].id}`, { body: { confirmed: true } });
  }
  return { res: r, ids };
}

describe('sim orders', () => {
  it('asks a chain of questions (o354 then o10151) and accepts after the replies', async () => {
    const { api, hook } = await start();
    const q1 = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 10, cOID: 'chain-1' });
    expect(q1.status).toBe(200);
    expect(q1.body[0]).toMatchObject({ isSuppressed: false, messageIds: ['o354'] });
    expect(q1.body[0].id).toMatch(/^[0-9a-f-]{36}$/);
    expect(q1.body[0].message[0]).toMatch(/market data/);
    const q2 = await api('POST', `/iserver/reply/${q1.body[0].id}`, { body: { confirmed: true } });
    expect(q2.body[0].messageIds).toEqual(['o10151']);
    const ok = await api('POST', `/iserver/reply/${q2.body[0].id}`, { body: { confirmed: true } });
    expect(ok.body).toHaveLength(1);
    expect(ok.body[0]).toMatchObject({ order_status: 'PreSubmitted', encrypt_message: '1', local_order_id: 'chain-1' });
    expect(ok.body[0].order_id).toMatch(/^\d{9,10}$/);
    const orderId = Number(ok.body[0].order_id);
    const st = await until(() => api('GET', `/iserver/account/order/status/${orderId}`), (r) => r.body.order_status === 'Filled');
    expect(st.body).toMatchObject({ order_id: orderId, conid: AAPL, side: 'B', order_status: 'Filled', order_type: 'MARKET', total_size: '10.0', cum_fill: '10.0', account: ACCT });
    // Filled at the ask (plus tiny slippage) of the quote in force at the fill time.
    const ex = (await hook('GET', '/executions')).body[0];
    const q = (await hook('GET', `/quote?conid=${AAPL}&t=${ex.time}`)).body;
    expect(ex.price).toBeGreaterThanOrEqual(q.ask);
    expect(ex.price).toBeLessThanOrEqual(q.ask + 0.02);
    expect(ex.orderRef).toBe('chain-1');
  });

  it('suppressed message ids are not asked; suppress/reset brings them back', async () => {
    const { api } = await start();
    await api('GET', `/iserver/marketdata/snapshot?conids=${AAPL}&fields=31`); // market data taken: no o354
    expect((await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o10151'] } })).body).toEqual({ status: 'submitted' });
    const r = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    expect(r.body[0].order_id).toBeDefined();
    expect((await api('POST', '/iserver/questions/suppress/reset')).body).toEqual({ status: 'submitted' });
    const q = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    expect(q.body[0].messageIds).toEqual(['o10151']);
  });

  it('o163 for a limit price far from the market; o383/o451 for size and value limits', async () => {
    const { api, hook } = await start({ sizeLimit: 100, valueLimit: 10_000 });
    await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o354'] } });
    const last: number = (await hook('GET', `/quote?conid=${AAPL}`)).body.last;
    const far = await place(api, { conid: AAPL, orderType: 'LMT', price: Math.round(last * 0.9), side: 'BUY', tif: 'DAY', quantity: 1 });
    expect(far.body[0].messageIds).toEqual(['o163']);
    expect(far.body[0].message[0]).toMatch(/Percentage constraint of 3%/);
    const { ids } = await placeConfirmed(api, { conid: AAPL, orderType: 'LMT', price: last, side: 'BUY', tif: 'DAY', quantity: 101 });
    expect(ids).toEqual(['o383', 'o451']);
  });

  it('reply ids: another order request invalidates them, they expire, and confirmed:false rejects', async () => {
    const { api } = await start({ realism: { replyTtlMs: 300 } });
    const q = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 2 });
    const late = await api('POST', `/iserver/reply/${q.body[0].id}`, { body: { confirmed: true } });
    expect(late.status).toBe(400);
    expect(late.body).toEqual({ error: `reply id not found: '${q.body[0].id}'` });
    const q2 = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    await sleep(350);
    expect((await api('POST', `/iserver/reply/${q2.body[0].id}`, { body: { confirmed: true } })).status).toBe(400);
    const q3 = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    const no = await api('POST', `/iserver/reply/${q3.body[0].id}`, { body: { confirmed: false } });
    expect(no.body).toEqual({ error: 'Order not confirmed ' });
    expect((await clientFor(sim!).hook('GET', '/orders')).body).toHaveLength(0);
  });

  it('refuses a duplicate cOID as IBKR does', async () => {
    const { api } = await start({ profile: 'ideal' });
    const a = await place(api, { conid: AAPL, orderType: 'LMT', price: 200, side: 'BUY', tif: 'DAY', quantity: 1, cOID: 'dup-1' });
    expect(a.body[0].order_id).toBeDefined();
    const b = await place(api, { conid: AAPL, orderType: 'LMT', price: 200, side: 'BUY', tif: 'DAY', quantity: 1, cOID: 'dup-1' });
    expect(b.status).toBe(200);
    expect(b.body).toEqual({ error: "Order couldn't be submitted: Local order ID=dup-1 is already registered." });
  });

  it('validates the body: 400 Bad Request for missing fields', async () => {
    const { api } = await start({ profile: 'ideal' });
    const r = await place(api, { conid: AAPL, orderType: 'MKT', tif: 'DAY', quantity: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^Bad Request: /);
    expect(r.body.statusCode).toBe(400);
    expect((await api('POST', `/iserver/account/${ACCT}/orders`, { body: { nope: 1 } })).status).toBe(400);
  });

  it('rejects unknown conids, insufficient funds, crypto rule breaches and short crypto sales', async () => {
    const { api } = await start({ profile: 'ideal', accounts: { paper: { cash: 1_000 } } });
    expect((await place(api, { conid: 123, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 })).body).toEqual({ error: 'Contract conid:123 is not supported' });
    const funds = await place(api, { conid: AAPL, orderType: 'LMT', price: 230, side: 'BUY', tif: 'DAY', quantity: 100 });
    expect(funds.status).toBe(200);
    expect(funds.body.error).toMatch(/^Your order is not accepted\. In order to obtain the desired position your Equity with Loan Value \[[\d,.]+ USD\] must exceed the new total Initial Margin of \[[\d,.]+ USD\]$/);
    expect((await place(api, { conid: BTC, orderType: 'MKT', side: 'BUY', tif: 'IOC', quantity: 0.01 })).body).toEqual({ error: 'You must set Cash Quantity' });
    expect((await place(api, { conid: BTC, orderType: 'MKT', side: 'BUY', tif: 'DAY', cashQty: 100 })).body).toEqual({ error: 'The crypto MKT order must be IOC' });
    expect((await place(api, { conid: BTC, orderType: 'LMT', price: 1000, side: 'BUY', tif: 'GTC', quantity: 0.001 })).body.error).toMatch(/GTC/);
    expect((await place(api, { conid: BTC, orderType: 'LMT', price: 1000, side: 'SELL', tif: 'IOC', quantity: 0.001 })).body.error).toMatch(/^Short sale of crypto is not allowed/);
  });

  it('crypto market BUY sized by cashQty and IOC: o10288/o10164/o10223, then filled', async () => {
    const { api, hook } = await start();
    await api('GET', `/iserver/marketdata/snapshot?conids=${BTC}&fields=31`);
    const { res, ids } = await placeConfirmed(api, { conid: BTC, secType: `${BTC}:CRYPTO`, orderType: 'MKT', side: 'BUY', tif: 'IOC', cashQty: 500, cOID: 'btc-1' });
    expect(ids).toEqual(['o10288', 'o10164', 'o10223']);
    const id = Number(res.body[0].order_id);
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (r) => r.body.order_status === 'Filled');
    const pf = (await hook('GET', '/portfolio')).body.find((a: { id: string }) => a.id === ACCT);
    const pos = pf.positions.find((p: { conid: number }) => p.conid === BTC);
    expect(pos.qty).toBeGreaterThan(0.004);
    expect(pos.qty * pos.avgCost).toBeLessThanOrEqual(500 + 2); // commission included
  });

  it('holds orders while the market is closed, rejects IOC, fills at the open', async () => {
    const { api, hook } = await start({ profile: 'ideal', startTime: SAT });
    expect((await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'IOC', quantity: 1 })).body.error).toMatch(/market is closed/);
    const a = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 3 });
    const e = await place(api, { conid: 495759171, orderType: 'LMT', price: 100000, side: 'BUY', tif: 'DAY', quantity: 0.01 });
    await sleep(300);
    const id = Number(a.body[0].order_id);
    expect((await api('GET', `/iserver/account/order/status/${id}`)).body.order_status).toBe('PreSubmitted');
    expect((await api('GET', `/iserver/account/order/status/${Number(e.body[0].order_id)}`)).body.order_status).toBe('PreSubmitted');
    await hook('POST', '/clock', { set: '2026-03-16T13:31:00Z' }); // Monday 09:31 EDT
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (r) => r.body.order_status === 'Filled');
    await until(() => api('GET', `/iserver/account/order/status/${Number(e.body[0].order_id)}`), (r) => r.body.order_status === 'Filled');
  });

  it('live orders: pre-flight, force, rows in the reference shape, filters', async () => {
    const { api } = await start({ realism: { liveOrdersEmptyAfterLoginMs: 0 } }); // the empty window has its own test
    expect((await api('GET', '/iserver/account/orders')).body).toEqual({ orders: [], snapshot: false });
    await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o354', 'o163', 'o10151'] } });
    const r = await place(api, { conid: AAPL, orderType: 'LMT', price: 150, side: 'BUY', tif: 'DAY', quantity: 5, cOID: 'lo-1' });
    const id = Number(r.body[0].order_id);
    // The order moves on to Submitted by itself (the simulator's submit delay): wait for that.
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (s) => s.body.order_status === 'Submitted');
    expect((await api('GET', '/iserver/account/orders?force=true')).body).toEqual({}); // realistic: force answers {} (ibind #90)
    const list = await api('GET', '/iserver/account/orders');
    expect(list.body.snapshot).toBe(true);
    expect(list.body.orders[0]).toMatchObject({
      acct: ACCT, conid: AAPL, conidex: String(AAPL), orderId: id, status: 'Submitted', orderType: 'Limit', origOrderType: 'LIMIT',
      side: 'BUY', price: '150.00', timeInForce: 'CLOSE', order_ref: 'lo-1', totalSize: 5, filledQuantity: 0, remainingQuantity: 5,
      sizeAndFills: '0/5', ticker: 'AAPL', secType: 'STK', companyName: 'APPLE INC',
    });
    expect(list.body.orders[0].lastExecutionTime).toMatch(/^\d{12}$/);
    expect((await api('GET', '/iserver/account/orders?filters=Filled')).body).toEqual({ snapshot: true });
    expect((await api('GET', '/iserver/account/orders?filters=submitted')).body.orders).toHaveLength(1);
    expect((await api('GET', '/iserver/account/orders?filters=pre_submitted,Filled')).body.orders).toBeUndefined();
  });

  it('live orders come back empty after regular hours and right after login although orders exist (ibind #43)', async () => {
    const { api, hook } = await start({ startTime: Date.UTC(2026, 2, 4, 3, 0), realism: { liveOrdersPreflight: false, liveOrdersEmptyAfterLoginMs: 0 } });
    await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o354', 'o10151'] } });
    const r = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1, cOID: 'night-1' });
    const id = Number(r.body[0].order_id);
    expect((await api('GET', '/iserver/account/orders')).body).toEqual({ snapshot: true });
    expect((await api('GET', `/iserver/account/order/status/${id}`)).body).toMatchObject({ order_id: id, order_status: 'PreSubmitted' });
    const state = (await hook('GET', '/state')).body as { emptyLiveOrderReads: number };
    expect(state.emptyLiveOrderReads).toBeGreaterThan(0);
    await hook('POST', '/realism', { liveOrdersEmptyOutsideRth: false });
    expect((await api('GET', '/iserver/account/orders')).body.orders.map((o: { order_ref: string }) => o.order_ref)).toEqual(['night-1']);
  });

  it('order status of an unknown order is 503; trades are empty on the first read, then list executions', async () => {
    const { api } = await start();
    const st = await api('GET', '/iserver/account/order/status/42');
    expect(st.status).toBe(503);
    expect(st.body).toEqual({ error: 'Order 42 is not found', statusCode: 503 });
    await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o354', 'o10151'] } });
    const r = await place(api, { conid: AAPL, orderType: 'MKT', side: 'SELL', tif: 'DAY', quantity: 4, cOID: 'tr-1' });
    const id = Number(r.body[0].order_id);
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Filled');
    expect((await api('GET', '/iserver/account/trades')).body).toEqual([]);
    const t = await api('GET', '/iserver/account/trades?days=1');
    expect(t.body).toHaveLength(1);
    // Realistic rows: no order_id (the order is its order_ref), conid as a string.
    expect(t.body[0]).toMatchObject({ symbol: 'AAPL', side: 'S', size: 4, order_ref: 'tr-1', account: ACCT, conid: String(AAPL), sec_type: 'STK' });
    expect(t.body[0]).not.toHaveProperty('order_id');
    expect(id).toBeGreaterThan(0);
    expect(t.body[0].execution_id).toMatch(/^[0-9a-f]{8}\.[0-9a-f]+\.01\.\d+$/);
    expect(t.body[0].trade_time).toMatch(/^\d{8}-\d{2}:\d{2}:\d{2}$/);
    expect(t.body[0].price).toMatch(/^\d+\.\d{2}$/);
    expect(t.body[0].commission).toMatch(/^\d+\.\d{2}$/);
  });

  it('cancel: acknowledgement, then PendingCancel → Cancelled; unknown ids', async () => {
    const { api } = await start();
    await api('POST', '/iserver/questions/suppress', { body: { messageIds: ['o354', 'o163'] } });
    const r = await place(api, { conid: AAPL, orderType: 'LMT', price: 100, side: 'BUY', tif: 'DAY', quantity: 5 });
    const id = Number(r.body[0].order_id);
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Submitted');
    const c = await api('DELETE', `/iserver/account/${ACCT}/order/${id}`);
    expect(c.body).toEqual({ msg: 'Request was submitted', order_id: id, conid: AAPL, account: ACCT });
    expect((await api('GET', `/iserver/account/order/status/${id}`)).body.order_status).toBe('PendingCancel');
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Cancelled');
    expect((await api('DELETE', `/iserver/account/${ACCT}/order/1`)).body).toEqual({ error: "OrderID 1 doesn't exist" });
  });

  it('modify a working order (price), refuse modifying a filled one', async () => {
    const { api } = await start({ profile: 'ideal' });
    const r = await place(api, { conid: AAPL, orderType: 'LMT', price: 100, side: 'BUY', tif: 'DAY', quantity: 5 });
    const id = Number(r.body[0].order_id);
    const m = await api('POST', `/iserver/account/${ACCT}/order/${id}`, { body: { acctId: ACCT, conid: AAPL, orderType: 'LMT', price: 101.5, side: 'BUY', tif: 'DAY', quantity: 5 } });
    expect(m.body[0]).toMatchObject({ order_id: String(id), encrypt_message: '1' });
    expect((await api('GET', `/iserver/account/order/status/${id}`)).body.limit_price).toBe('101.50');
    expect((await api('POST', `/iserver/account/${ACCT}/order/${id}`, { body: { conid: AAPL, orderType: 'LMT', price: 101, side: 'SELL', tif: 'DAY', quantity: 5 } })).body.error).toMatch(/side/);
    // Make it marketable: it fills, then modifying fails.
    await api('POST', `/iserver/account/${ACCT}/order/${id}`, { body: { conid: AAPL, orderType: 'LMT', price: 400, side: 'BUY', tif: 'DAY', quantity: 5 } });
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Filled');
    const late = await api('POST', `/iserver/account/${ACCT}/order/${id}`, { body: { conid: AAPL, orderType: 'LMT', price: 401, side: 'BUY', tif: 'DAY', quantity: 5 } });
    expect(late.body.error).toBeTypeOf('string');
  });

  it('partial fills when asked: several executions for one order', async () => {
    const { api, hook } = await start({ profile: 'ideal' });
    await hook('POST', '/fills', { partialFillParts: 3 });
    const r = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 30 });
    const id = Number(r.body[0].order_id);
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Filled');
    const ex = (await hook('GET', '/executions')).body.filter((e: { orderId: number }) => e.orderId === id);
    expect(ex.map((e: { size: number }) => e.size)).toEqual([10, 10, 10]);
    expect(new Set(ex.map((e: { executionId: string }) => e.executionId)).size).toBe(3);
  });

  it('fills get worse with size (slippage)', async () => {
    const { api, hook } = await start({ profile: 'ideal', slippageBpsPer100k: 10, accounts: { paper: { cash: 50_000_000 } } });
    const small = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    const big = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 20_000 });
    const ids = [small, big].map((o) => Number(o.body[0].order_id));
    const ex = (await until(() => hook('GET', '/executions'), (r) => ids.every((id) => r.body.some((e: { orderId: number }) => e.orderId === id)))).body;
    const sm = ex.find((e: { orderId: number }) => e.orderId === Number(small.body[0].order_id));
    const bg = ex.find((e: { orderId: number }) => e.orderId === Number(big.body[0].order_id));
    const qs = (await hook('GET', `/quote?conid=${AAPL}&t=${sm.time}`)).body;
    const qb = (await hook('GET', `/quote?conid=${AAPL}&t=${bg.time}`)).body;
    expect(sm.price - qs.ask).toBeLessThan(bg.price - qb.ask);
  });

  it('combo order on the USD spread conid fills both legs (§6.11)', async () => {
    const { api, hook } = await start({ profile: 'ideal' });
    const r = await place(api, { conidex: '28812380;;;900000001/1,900000002/-1', orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 10, cOID: 'pair-1' });
    expect(r.body[0].order_id).toBeDefined();
    const id = Number(r.body[0].order_id);
    await until(() => api('GET', `/iserver/account/order/status/${id}`), (x) => x.body.order_status === 'Filled');
    const pf = (await hook('GET', '/portfolio')).body.find((a: { id: string }) => a.id === ACCT);
    const qty = Object.fromEntries(pf.positions.map((p: { symbol: string; qty: number }) => [p.symbol, p.qty]));
    expect(qty).toMatchObject({ ETHA: 10, ETHV: -10 });
    const ex = (await hook('GET', '/executions')).body.filter((e: { orderId: number }) => e.orderId === id);
    expect(ex.map((e: { side: string }) => e.side).sort()).toEqual(['BUY', 'SELL']);
  });

  it('what-if returns formatted strings and places nothing', async () => {
    const { api, hook } = await start({ profile: 'ideal' });
    const w = await api('POST', `/iserver/account/${ACCT}/orders/whatif`, { body: { orders: [{ conid: AAPL, orderType: 'LMT', price: 200, side: 'BUY', tif: 'DAY', quantity: 10 }] } });
    expect(w.body.amount.amount).toMatch(/^2,000\.00 USD \(10 Shares\)$/);
    expect(w.body.position).toEqual({ current: '0', change: '10', after: '10' });
    expect(w.body.error).toBeNull();
    expect((await hook('GET', '/orders')).body).toHaveLength(0);
  });

  it('positions: sparse first read, enriched later, cached until invalidate', async () => {
    const { api } = await start({ realism: { questions: false } });
    const r = await place(api, { conid: 756733, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 7 });
    await until(() => api('GET', `/iserver/account/order/status/${Number(r.body[0].order_id)}`), (x) => x.body.order_status === 'Filled');
    const first = await api('GET', `/portfolio/${ACCT}/positions/0`);
    expect(first.body[0]).toMatchObject({ acctId: ACCT, conid: 756733, position: 7, currency: 'USD', assetClass: 'STK', multiplier: null, strike: 0 });
    expect(first.body[0].ticker).toBeUndefined();
    const second = await api('GET', `/portfolio/${ACCT}/positions/0`);
    expect(second.body[0]).toMatchObject({ ticker: 'SPY', listingExchange: 'ARCA', type: 'ETF', strike: '0', multiplier: 0 });
    expect((await api('GET', `/portfolio/${ACCT}/positions/1`)).body).toEqual([]);
    // A new fill is not visible in the cached copy until invalidate.
    const r2 = await place(api, { conid: 756733, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 3 });
    await until(() => api('GET', `/iserver/account/order/status/${Number(r2.body[0].order_id)}`), (x) => x.body.order_status === 'Filled');
    expect((await api('GET', `/portfolio/${ACCT}/positions/0`)).body[0].position).toBe(7);
    expect((await api('POST', `/portfolio/${ACCT}/positions/invalidate`)).body).toEqual({ message: 'success' });
    expect((await api('GET', `/portfolio/${ACCT}/positions/0`)).body[0].position).toBe(10);
    const one = await api('GET', `/portfolio/${ACCT}/position/756733`);
    expect(one.body[0].position).toBe(10);
    const p2 = await api('GET', `/portfolio2/${ACCT}/positions`);
    expect(p2.body[0]).toMatchObject({ conid: '756733', position: 10, description: 'SPY' });
    const led = await api('GET', `/portfolio/${ACCT}/ledger`);
    expect(led.body.USD.stockmarketvalue).toBeGreaterThan(0);
  });

  it('placement needs /iserver/accounts first (realistic)', async () => {
    sim = await startSimulator({ seed: 21, startTime: TUE_RTH, authenticated: true, pacing: false });
    const { api } = clientFor(sim);
    const r = await place(api, { conid: AAPL, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('Please query /accounts first');
  });
});
