/**
 * The in-memory journal (backtests) against the SQLite one: the same orders through the same order
 * manager, pair executor and simulated broker leave the same rows in both. The order manager reads
 * the memory journal's own order rows in place (`orderNow`, no copy) where it only reads fields at
 * once; the SQLite journal hands out a fresh row every time. A read of a row after a write that
 * changed it would give a different outcome through the memory journal, and this test would see it.
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
import type { JournalApi } from '../src/store/journal-api.ts';
import { MemoryJournal } from '../src/store/memory-journal.ts';
import { silentLogger as silent } from '../src/log/logger.ts';
import { waitFor } from './helpers/engine-harness.ts';

const Y: Instrument = { symbol: 'ETHA', secType: 'STK', exchange: 'SMART', currency: 'USD', conid: 1 };
const X: Instrument = { symbol: 'ETHV', secType: 'STK', exchange: 'SMART', currency: 'USD', conid: 2 };

const dirs: string[] = [];
const journals: Journal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const bar = (open: number) => ({ open, high: open, low: open, close: open, volume: 0 });

/** One scripted run: fills before the answer (a backtest's), refusals, retries, a flatten, a lost answer, a fill after the answer. */
async function scriptedRun(journal: JournalApi) {
  let refuseX = false;
  const broker = new SimBroker({ contracts: [Y, X], slippageBps: 10, rejectWhen: (r) => (refuseX && r.instrument.conid === X.conid ? 'no shares to borrow' : undefined) });
  const portfolio = new Portfolio();
  const book = portfolio.addBook('s1', 100_000);
  let clock = 1_000;
  const orders = new OrderManager({ broker, journal, portfolio, coidPrefix: 't', pollMs: 20, resolveTimeoutMs: 500, now: () => clock++ });
  void broker.subscribe([], { onOrder: (o) => orders.onBrokerOrder(o), onFill: (f) => orders.onBrokerFill(f) });
  const executor = new PairExecutor({ strategyId: 's1', orders, journal, logger: silent, maxLegRetries: 2, settleTimeoutMs: 5_000, useCombo: false, outsideRth: false });
  const announce = (time: number, y: number, x: number): void => {
    broker.nextBar(Y.conid, time, bar(y));
    broker.nextBar(X.conid, time, bar(x));
  };

  const results = [];
  // Both legs accepted and filled at the announced open before the broker answers.
  announce(60_000, 20, 40);
  results.push(await executor.execute('enter-1', [{ name: 'y', instrument: Y, side: 'BUY', qty: 100, price: 20 }, { name: 'x', instrument: X, side: 'SELL', qty: 50, price: 40 }]));
  // The x leg refused every time: retried under new cOIDs, then the filled y leg is flattened.
  refuseX = true;
  announce(120_000, 21, 41);
  results.push(await executor.execute('enter-2', [{ name: 'y', instrument: Y, side: 'BUY', qty: 10, price: 21 }, { name: 'x', instrument: X, side: 'SELL', qty: 5, price: 41 }]));
  refuseX = false;
  // A lost answer: resolved by looking the cOID up.
  broker.loseNextAnswer();
  const lost = await orders.place('s1', 'enter-3', 'y', { instrument: Y, side: 'BUY', quantity: 3, orderType: 'MKT', tif: 'DAY' });
  results.push(await orders.settle(lost.cOID, 5_000));
  // No bar announced: the orders work until the next bar fills them (after the answer).
  broker.nextBar(Y.conid, Number.NaN, null);
  broker.nextBar(X.conid, Number.NaN, null);
  const closing = executor.execute('close-4', [{ name: 'y', instrument: Y, side: 'SELL', qty: 103, price: 22 }, { name: 'x', instrument: X, side: 'BUY', qty: 50, price: 42 }]);
  await waitFor(() => broker.working().length === 2, 30_000, 'two working orders');
  broker.bar(Y.conid, { time: 180_000, ...bar(22) });
  broker.bar(X.conid, { time: 180_000, ...bar(42) });
  results.push(await closing);

  // cOIDs carry a run tag (the clock's): compared without it.
  const tag = (s: string): string => s.replace(/\bt-[0-9a-z]{6,}-(\d+)/g, 't-$1');
  const untag = <T>(v: T): T => JSON.parse(tag(JSON.stringify(v))) as T;
  return {
    results: untag(results),
    orders: untag(journal.orders()),
    events: untag(journal.orderEvents()),
    fills: untag(journal.fills()),
    positions: journal.positions(),
    incidents: untag(journal.incidents().map((i) => ({ ...i, time: 0 }))),
    book: { cash: book.cash, y: book.qty(Y.conid), x: book.qty(X.conid) },
    placements: broker.placements.map(tag),
  };
}

describe('the memory journal keeps what the SQLite journal keeps', () => {
  it('the same orders through the order manager leave identical orders, events, fills, positions and incidents in both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-memjournal-'));
    dirs.push(dir);
    const sqlite = new Journal(join(dir, 'journal.sqlite'));
    journals.push(sqlite);
    const onDisk = await scriptedRun(sqlite);
    const inMemory = await scriptedRun(new MemoryJournal());

    // The run did what it says (so the comparison covers every path it names).
    expect(onDisk.orders.map((o) => [o.intentId, o.leg, o.state])).toEqual([
      ['enter-1', 'y', 'filled'], ['enter-1', 'x', 'filled'],
      ['enter-2', 'y', 'filled'], ['enter-2', 'x', 'rejected'], ['enter-2', 'x-retry1', 'rejected'], ['enter-2', 'x-retry2', 'rejected'], ['enter-2', 'y-flatten', 'filled'],
      ['enter-3', 'y', 'filled'],
      ['close-4', 'y', 'filled'], ['close-4', 'x', 'filled'],
    ]);
    expect(onDisk.events.some((e) => e.state === 'unknown' || (e.detail ?? '').includes('"refused":"unknown"'))).toBe(true);
    expect(onDisk.book).toEqual({ cash: expect.any(Number), y: 0, x: 0 });

    expect(inMemory).toEqual(onDisk);
  });
});
