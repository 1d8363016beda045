/**
 * The order manager and the pair executor without HTTP: through `SimBroker`, the in-process Broker
 * that fills by the fill model (next bar's open, slippage, commission, quantity increments), with a
 * real SQLite journal. Nothing is mocked: the same classes the node runs, against a real broker
 * implementation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimBroker } from '../src/brokers/sim-broker.ts';
import type { Instrument } from '../src/brokers/types.ts';
import { OrderManager } from '../src/engine/order-manager.ts';
import { PairExecutor } from '../src/engine/pair-executor.ts';
import { Portfolio } from '../src/engine/portfolio.ts';
import { Journal } from '../src/store/journal.ts';
import { silentLogger as silent } from '../src/log/logger.ts';
import { waitFor } from './helpers/engine-harness.ts';

const Y: Instrument = { symbol: 'ETHA', secType: 'STK', exchange: 'SMART', currency: 'USD', conid: 1 };
const X: Instrument = { symbol: 'ETHV', secType: 'STK', exchange: 'SMART', currency: 'USD', conid: 2 };
const BTC: Instrument = { symbol: 'BTC', secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD', conid: 3 };

const dirs: string[] = [];
const journals: Journal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(opts: ConstructorParameters<typeof SimBroker>[0] extends infer O ? Partial<O> : never = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-orders-'));
  dirs.push(dir);
  const journal = new Journal(join(dir, 'journal.sqlite'));
  journals.push(journal);
  const broker = new SimBroker({ contracts: [Y, X, BTC], slippageBps: 10, ...opts });
  const portfolio = new Portfolio();
  const book = portfolio.addBook('s1', 50_000);
  portfolio.addBook('s2', 50_000);
  const orders = new OrderManager({ broker, journal, portfolio, coidPrefix: 't', pollMs: 20, resolveTimeoutMs: 300 });
  void broker.subscribe([], { onOrder: (o) => orders.onBrokerOrder(o), onFill: (f) => orders.onBrokerFill(f) });
  const executor = new PairExecutor({ strategyId: 's1', orders, journal, logger: silent, maxLegRetries: 2, settleTimeoutMs: 2_000, useCombo: false, outsideRth: false });
  return { journal, broker, portfolio, book, orders, executor };
}

const bar = (time: number, open: number) => ({ time, open, high: open, low: open, close: open, volume: 0 });

describe('order manager and pair executor through the simulated broker', () => {
  it('journals an order before the broker sees it, fills it at the next bar\'s open with slippage and commission, books it to its strategy', async () => {
    const { journal, broker, orders, book, portfolio } = setup();
    let journalledFirst = false;
    const place = broker.placeOrder.bind(broker);
    broker.placeOrder = async (req) => {
      journalledFirst = journal.order(req.cOID)?.state === 'new';
      return place(req);
    };
    const o = await orders.place('s1', 'enter-1', 'y', { instrument: Y, side: 'BUY', quantity: 100, orderType: 'MKT', tif: 'DAY' });
    expect(journalledFirst).toBe(true);
    expect(o.state).toBe('working');
    broker.bar(Y.conid, bar(1, 20));
    const done = await orders.settle(o.cOID, 2_000);
    expect(done.state).toBe('filled');
    const f = journal.fills('s1');
    expect(f).toHaveLength(1);
    expect(f[0]!.price).toBeCloseTo(20 * 1.001, 10);
    expect(f[0]!.commission).toBe(1); // per-share 0.005 x 100 = 0.5, minimum 1
    expect(book.qty(Y.conid)).toBe(100);
    expect(portfolio.book('s2')!.qty(Y.conid)).toBe(0);
    expect(book.cash).toBeCloseTo(50_000 - 100 * 20.02 - 1, 8);
    expect(journal.positions('s1')).toEqual([{ strategyId: 's1', conid: 1, symbol: 'ETHA', qty: 100, avgCost: expect.closeTo(20.02, 8) }]);
  });

  it('a refused order is rejected once and never re-sent; a quantity off the increment is refused by the fill model', async () => {
    const { journal, broker, orders } = setup({ rejectWhen: (r) => (r.instrument.conid === X.conid ? 'no shares to borrow' : undefined) });
    const r = await orders.place('s1', 'enter-1', 'x', { instrument: X, side: 'SELL', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    expect(r.state).toBe('rejected');
    expect(r.lastError).toMatch(/no shares to borrow/);
    const odd = await orders.place('s1', 'enter-2', 'y', { instrument: BTC, side: 'SELL', quantity: 0.00015, orderType: 'MKT', tif: 'IOC' });
    expect(odd.state).toBe('rejected');
    expect(odd.lastError).toMatch(/not a multiple of the increment 0.0001/);
    expect(broker.placements).toEqual([r.cOID, odd.cOID]);
    expect(journal.openOrders()).toEqual([]);
  });

  it('a lost answer is resolved by looking the cOID up, never by sending again', async () => {
    const { journal, broker, orders } = setup();
    broker.loseNextAnswer();
    const o = await orders.place('s1', 'enter-1', 'y', { instrument: Y, side: 'BUY', quantity: 5, orderType: 'MKT', tif: 'DAY' });
    expect(o.state).toBe('working'); // found at the broker by cOID
    expect(broker.placements).toEqual([o.cOID]);
    // The lost answer is journalled: as 'unknown', or (when the broker's status update got there
    // first) as an 'unknown' the forward-only journal refused to move the order back to.
    expect(journal.orderEvents(o.cOID).some((e) => e.state === 'unknown' || (e.detail ?? '').includes('"refused":"unknown"'))).toBe(true);
    // A placement that never reached the broker is not found by its cOID: it is proven absent or
    // present by sending it once more under the SAME cOID (a registered cOID would be refused), so
    // it reaches the broker exactly once and never under a new cOID.
    broker.failNextPlacement();
    const lost = await orders.place('s1', 'enter-2', 'y', { instrument: Y, side: 'BUY', quantity: 5, orderType: 'MKT', tif: 'DAY' });
    expect(lost.state).toBe('working');
    expect(broker.placements).toEqual([o.cOID, lost.cOID]);
  });

  it('fills are attributed by cOID to the strategy that placed the order, and duplicates are ignored', async () => {
    const { journal, broker, orders, portfolio } = setup();
    const a = await orders.place('s1', 'enter-1', 'y', { instrument: Y, side: 'BUY', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    const b = await orders.place('s2', 'enter-1', 'y', { instrument: Y, side: 'SELL', quantity: 4, orderType: 'MKT', tif: 'DAY' });
    broker.bar(Y.conid, bar(1, 20));
    await orders.settle(a.cOID, 1_000);
    await orders.settle(b.cOID, 1_000);
    for (const f of await broker.fills()) orders.onBrokerFill(f); // a replay (poll after a reconnect)
    expect(journal.fills().map((f) => [f.strategyId, f.cOID])).toEqual([['s1', a.cOID], ['s2', b.cOID]]);
    expect([portfolio.book('s1')!.qty(Y.conid), portfolio.book('s2')!.qty(Y.conid), portfolio.accountQty(Y.conid)]).toEqual([10, -4, 6]);
    expect((await broker.positions())[0]!.qty).toBe(6);
  });

  it('pair executor: both legs fill at the next open; a leg that keeps being refused is retried under new cOIDs, then the filled leg is flattened', async () => {
    const ok = setup();
    const run = ok.executor.execute('enter-1', [
      { name: 'y', instrument: Y, side: 'BUY', qty: 100, price: 20 },
      { name: 'x', instrument: X, side: 'SELL', qty: 50, price: 40 },
    ]);
    await waitFor(() => ok.broker.working().length === 2, 30_000, 'two working orders');
    ok.broker.bar(Y.conid, bar(1, 20));
    ok.broker.bar(X.conid, bar(1, 40));
    const res = await run;
    expect(res).toMatchObject({ ok: true, filled: { y: 100, x: -50 } });

    const bad = setup({ rejectWhen: (r) => (r.instrument.conid === X.conid ? 'rejected by the fill model' : undefined) });
    const run2 = bad.executor.execute('enter-2', [
      { name: 'y', instrument: Y, side: 'BUY', qty: 100, price: 20 },
      { name: 'x', instrument: X, side: 'SELL', qty: 50, price: 40 },
    ]);
    await waitFor(() => bad.broker.working().length === 1, 30_000, 'the y leg working');
    bad.broker.bar(Y.conid, bar(1, 20)); // y fills
    await waitFor(() => bad.broker.working().some((o) => o.side === 'SELL' && o.conid === Y.conid), 30_000, 'the flatten order');
    bad.broker.bar(Y.conid, bar(2, 21)); // the flatten fills
    const r2 = await run2;
    expect(r2.ok).toBe(false);
    expect(r2.flattened).toBe(true);
    expect(bad.journal.orders('s1').map((o) => [o.leg, o.state])).toEqual([
      ['y', 'filled'], ['x', 'rejected'], ['x-retry1', 'rejected'], ['x-retry2', 'rejected'], ['y-flatten', 'filled'],
    ]);
    expect(new Set(bad.broker.placements).size).toBe(bad.broker.placements.length);
    expect(bad.journal.incidents().map((i) => [i.kind, i.strategyId])).toEqual([['legging', 's1']]);
    expect(bad.book.qty(Y.conid)).toBe(0);
  });

  it('pair executor: an order that does not fill in time is cancelled at the broker; a crypto buy goes as cash quantity rounded down to the increment', async () => {
    const { broker, executor, journal, book } = setup();
    const res = await executor.execute('enter-1', [{ name: 'y', instrument: Y, side: 'BUY', qty: 10, price: 20 }]);
    expect(res.ok).toBe(false);
    expect(journal.orders('s1').every((o) => o.state === 'cancelled')).toBe(true);
    expect(broker.working()).toEqual([]);

    const run = executor.execute('enter-2', [{ name: 'b', instrument: BTC, side: 'BUY', qty: 0.1, price: 90_000 }]);
    await waitFor(() => broker.working().length === 1, 30_000, 'the crypto order');
    expect(journal.orders('s1').at(-1)!.cashQty).toBe(9_000);
    broker.bar(BTC.conid, bar(1, 90_000));
    const r = await run;
    expect(r.ok).toBe(true);
    // 9000 / (90000 x 1.001) = 0.0999000999 -> 0.0999 (increment 0.0001).
    expect(book.qty(BTC.conid)).toBe(0.0999);
  });

  it('closed for new orders (second stop signal): a later placement is journalled as rejected and never reaches the broker', async () => {
    const { broker, orders, journal } = setup();
    const before = await orders.place('s1', 'enter-1', 'y', { instrument: Y, side: 'BUY', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    expect(before.state).toBe('working');
    orders.closeForNewOrders('the node is cancelling its working orders');
    const after = await orders.place('s1', 'enter-1', 'y-retry1', { instrument: Y, side: 'BUY', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    expect(after.state).toBe('rejected');
    expect(after.lastError).toMatch(/not sent: the node is cancelling its working orders/);
    expect(broker.placements).toEqual([before.cOID]);
    expect(orders.inFlight().map((o) => o.cOID)).toEqual([before.cOID]);
    expect(journal.order(after.cOID)!.state).toBe('rejected');
  });
});
