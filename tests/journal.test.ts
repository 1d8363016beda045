import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../src/store/journal.ts';
import { Database } from '../src/store/sqlite.ts';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-journal-'));
  dirs.push(dir);
  return join(dir, 'data', 'journal.sqlite');
}
function tempJournal(): { j: Journal; file: string } {
  const file = tempFile();
  return { j: new Journal(file), file };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const order = { cOID: 'tdm-a-1', strategyId: 'etf', intentId: 'enter-1', leg: 'y', conid: 1, symbol: 'ETHA', side: 'BUY' as const, quantity: 10, cashQty: null, orderType: 'MKT', tif: 'DAY' };

describe('journal', () => {
  it('uses WAL and survives reopening with orders, events, fills, positions and strategy state', () => {
    const { j, file } = tempJournal();
    expect(j.journalMode()).toBe('wal');
    j.recordNewOrder(order, 1000);
    j.updateOrder('tdm-a-1', 'working', { brokerOrderId: '555' }, 1001);
    expect(j.recordFill({ execId: 'e1', cOID: 'tdm-a-1', brokerOrderId: '555', conid: 1, side: 'BUY', qty: 10, price: 25, commission: 1, time: 1002 })).toBe(true);
    expect(j.recordFill({ execId: 'e1', cOID: 'tdm-a-1', brokerOrderId: '555', conid: 1, side: 'BUY', qty: 10, price: 25, commission: 1, time: 1002 })).toBe(false);
    j.updateOrder('tdm-a-1', 'filled', { filledQty: 10, avgPrice: 25 }, 1003);
    j.setPosition('etf', 1, 'ETHA', 10, 25);
    j.saveStrategyState('etf', 5000, { type: 'cointegration', version: 1, position: { side: 'LONG' } });
    j.setMeta('coidSeq', '1');
    j.close();

    const j2 = new Journal(file);
    const o = j2.order('tdm-a-1')!;
    expect(o.state).toBe('filled');
    expect(o.strategyId).toBe('etf');
    expect(o.brokerOrderId).toBe('555');
    expect(o.filledQty).toBe(10);
    expect(j2.orderEvents('tdm-a-1').map((e) => e.state)).toEqual(['new', 'working', 'filled']);
    expect(j2.fills()).toHaveLength(1);
    expect(j2.fills()[0]!.strategyId).toBe('etf'); // attributed by the order's cOID
    expect(j2.filledQty('tdm-a-1')).toBe(10);
    expect(j2.positions()).toEqual([{ strategyId: 'etf', conid: 1, symbol: 'ETHA', qty: 10, avgCost: 25 }]);
    expect(j2.loadStrategyState('etf')).toEqual({ barTime: 5000, state: { type: 'cointegration', version: 1, position: { side: 'LONG' } } });
    expect(j2.loadStrategyState('crypto')).toBeUndefined();
    expect(j2.getMeta('coidSeq')).toBe('1');
    expect(j2.openOrders()).toHaveLength(0);
    j2.close();
  });

  it('keeps positions, states and fills apart per strategy, and counts a run\'s own orders and fills only', () => {
    const { j } = tempJournal();
    j.recordNewOrder(order);
    j.recordFill({ execId: 'e0', cOID: 'tdm-a-1', brokerOrderId: '1', conid: 1, side: 'BUY', qty: 10, price: 25, commission: 1, time: 1 });
    const run = j.startRun(['etf', 'crypto']);
    j.recordNewOrder({ ...order, cOID: 'tdm-b-1', strategyId: 'crypto', conid: 2, symbol: 'BTC' });
    j.recordFill({ execId: 'e1', cOID: 'tdm-b-1', brokerOrderId: '2', conid: 2, side: 'BUY', qty: 0.1, price: 90_000, commission: 2, time: 2 });
    j.setPosition('etf', 1, 'ETHA', 10, 25);
    j.setPosition('crypto', 1, 'ETHA', -4, 26);
    j.saveStrategyState('etf', 1, { a: 1 });
    j.saveStrategyState('crypto', 2, { b: 2 });
    expect(j.positions('crypto')).toEqual([{ strategyId: 'crypto', conid: 1, symbol: 'ETHA', qty: -4, avgCost: 26 }]);
    expect(j.loadStrategyState('etf')!.state).toEqual({ a: 1 });
    expect(j.fills('crypto').map((f) => f.execId)).toEqual(['e1']);
    expect(j.runCounts(run)).toEqual({ orders: 1, fills: 1 });
    expect(j.runCounts(run, 'etf')).toEqual({ orders: 0, fills: 0 });
    expect(j.orders('etf').map((o) => o.cOID)).toEqual(['tdm-a-1']);
    j.close();
  });

  it('refuses to record the same cOID twice and lists open orders', () => {
    const { j } = tempJournal();
    j.recordNewOrder(order);
    // The second insert fails inside its transaction: the cOID sequence written with it is rolled back too.
    expect(() => j.recordNewOrder(order, Date.now(), { key: 'coidSeq', value: '2' })).toThrow(/UNIQUE/);
    expect(j.getMeta('coidSeq')).toBeUndefined();
    j.recordNewOrder({ ...order, cOID: 'tdm-a-2' });
    j.updateOrder('tdm-a-2', 'unknown', { error: 'timeout' });
    expect(j.openOrders().map((o) => [o.cOID, o.state])).toEqual([['tdm-a-1', 'new'], ['tdm-a-2', 'unknown']]);
    expect(j.order('tdm-a-2')!.lastError).toBe('timeout');
    j.close();
  });

  it('keeps live bars apart from warm-up bars, and decisions and incidents in order', () => {
    const { j } = tempJournal();
    j.recordBars([{ time: 1, symbol: 'A', open: 1, high: 1, low: 1, close: 1, volume: 0 }], true);
    j.recordBarClose('etf', [{ time: 2, symbol: 'A', open: 2, high: 2, low: 2, close: 2, volume: 0 }], 2, 100_000, 100_000);
    expect(j.bars().map((b) => b.time)).toEqual([2]);
    expect(j.bars(true).map((b) => b.time)).toEqual([1, 2]);
    j.recordDecision('etf', 2, 'enter-LONG', { z: -2.1 });
    j.recordIncident('legging', { leg: 'x' }, 'etf');
    expect(j.decisions()).toEqual([{ strategyId: 'etf', barTime: 2, action: 'enter-LONG', detail: '{"z":-2.1}' }]);
    expect(j.incidents().map((i) => [i.kind, i.strategyId])).toEqual([['legging', 'etf']]);
    j.close();
  });

  it('migrates a version-1 journal: the column is added and the old rows are claimed by the single strategy', () => {
    const file = tempFile();
    mkdirSync(join(file, '..'), { recursive: true });
    // The version-1 schema as the single-strategy engine wrote it.
    const db = new DatabaseSync(file);
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE orders (coid TEXT PRIMARY KEY, intent_id TEXT NOT NULL, leg TEXT NOT NULL, conid INTEGER NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, quantity REAL, cash_qty REAL, order_type TEXT NOT NULL, tif TEXT NOT NULL, state TEXT NOT NULL, broker_order_id TEXT,
        filled_qty REAL NOT NULL DEFAULT 0, avg_price REAL NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_error TEXT);
      CREATE TABLE order_events (id INTEGER PRIMARY KEY AUTOINCREMENT, coid TEXT NOT NULL, time INTEGER NOT NULL, state TEXT NOT NULL, detail TEXT);
      CREATE TABLE fills (exec_id TEXT PRIMARY KEY, coid TEXT, broker_order_id TEXT NOT NULL, conid INTEGER NOT NULL, side TEXT NOT NULL,
        qty REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL, time INTEGER NOT NULL);
      CREATE TABLE positions (conid INTEGER PRIMARY KEY, symbol TEXT NOT NULL, qty REAL NOT NULL, avg_cost REAL NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE equity (time INTEGER NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL);
      CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, bar_time INTEGER NOT NULL, action TEXT NOT NULL, detail TEXT);
      CREATE TABLE strategy_state (id INTEGER PRIMARY KEY CHECK (id = 1), bar_time INTEGER, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT);
      INSERT INTO orders VALUES ('tdm-x-1','enter-1','y',1,'ETHA','BUY',10,NULL,'MKT','DAY','filled','9',10,25,1,2,NULL);
      INSERT INTO fills VALUES ('e1','tdm-x-1','9',1,'BUY',10,25,1,3);
      INSERT INTO positions VALUES (1,'ETHA',10,25,3);
      INSERT INTO strategy_state VALUES (1, 500, '{"s":1}', 4);
      INSERT INTO decisions (bar_time, action, detail) VALUES (500, 'enter-LONG', NULL);`);
    db.close();

    const j = new Journal(file);
    expect(j.getMeta('schemaVersion')).toBe('2');
    expect(j.hasLegacyRows()).toBe(true);
    expect(j.legacySymbols()).toEqual(['ETHA']);
    expect(j.order('tdm-x-1')!.strategyId).toBe('');
    j.claimLegacyRows('etf');
    expect(j.hasLegacyRows()).toBe(false);
    expect(j.order('tdm-x-1')!.strategyId).toBe('etf');
    expect(j.fills('etf').map((f) => f.execId)).toEqual(['e1']);
    expect(j.positions('etf')).toEqual([{ strategyId: 'etf', conid: 1, symbol: 'ETHA', qty: 10, avgCost: 25 }]);
    expect(j.loadStrategyState('etf')).toEqual({ barTime: 500, state: { s: 1 } });
    expect(j.decisions('etf')).toHaveLength(1);
    // New rows work with the migrated tables.
    j.recordNewOrder({ ...order, cOID: 'tdm-x-2' });
    j.setPosition('crypto', 2, 'BTC', 0.1, 90_000);
    j.close();
    const again = new Journal(file); // reopening a version-2 file changes nothing
    expect(again.positions().map((p) => p.strategyId)).toEqual(['crypto', 'etf']);
    again.close();
  });
});

describe('journal order states', () => {
  it('journal states only move forward: a filled order stays filled, a working one is never "never placed"', () => {
    const { j } = tempJournal();
    j.recordNewOrder(order, 1000);
    j.updateOrder('tdm-a-1', 'working', { brokerOrderId: '555' }, 1001);
    // An acknowledged order was placed: a failed lookup cannot make it "never placed".
    expect(j.updateOrder('tdm-a-1', 'rejected', { error: 'not at the broker after restart/reconnect: never placed' }, 1002)).toBe('working');
    expect(j.updateOrder('tdm-a-1', 'partial', { filledQty: 4, avgPrice: 25 }, 1003)).toBe('partial');
    // A stale snapshot: back to working, with fewer shares filled.
    expect(j.updateOrder('tdm-a-1', 'working', { filledQty: 2, avgPrice: 24 }, 1004)).toBe('partial');
    expect(j.order('tdm-a-1')).toMatchObject({ state: 'partial', filledQty: 4, avgPrice: 25 });
    expect(j.updateOrder('tdm-a-1', 'filled', { filledQty: 10, avgPrice: 25.5 }, 1005)).toBe('filled');
    for (const back of ['rejected', 'new', 'unknown', 'working', 'cancelled'] as const) {
      expect(j.updateOrder('tdm-a-1', back, { error: 'never placed' }, 1006)).toBe('filled');
    }
    expect(j.order('tdm-a-1')).toMatchObject({ state: 'filled', filledQty: 10, avgPrice: 25.5, lastError: null });
    // Every refusal is on record.
    const refused = j.orderEvents('tdm-a-1').filter((e) => e.detail?.includes('"refused"'));
    expect(refused.map((e) => JSON.parse(e.detail!).refused)).toEqual(['rejected', 'working', 'rejected', 'new', 'unknown', 'working', 'cancelled']);
  });

  it('journal "never placed" is provisional: an order declared never placed that turns up takes the broker\'s state', () => {
    const { j } = tempJournal();
    j.recordNewOrder(order, 1000);
    j.updateOrder('tdm-a-1', 'unknown', { error: 'timeout' }, 1001);
    expect(j.updateOrder('tdm-a-1', 'rejected', { error: 'not found at the broker by cOID: never placed' }, 1002)).toBe('rejected');
    expect(j.updateOrder('tdm-a-1', 'filled', { brokerOrderId: '7', filledQty: 10, avgPrice: 25 }, 1003)).toBe('filled');
    // A plain rejection is final.
    j.recordNewOrder({ ...order, cOID: 'tdm-a-2' }, 1004);
    j.updateOrder('tdm-a-2', 'rejected', { error: 'insufficient margin' }, 1005);
    expect(j.updateOrder('tdm-a-2', 'working', {}, 1006)).toBe('rejected');
  });
});

describe('sqlite transaction helper', () => {
  it('commits a transaction whole, rolls it back whole on a throw, and makes a nested call a savepoint', () => {
    const file = tempFile();
    mkdirSync(join(file, '..'), { recursive: true });
    const db = new Database(file);
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const values = (): number[] => (db.prepare('SELECT v FROM t ORDER BY v').all() as { v: number }[]).map((r) => r.v);
    expect(db.transaction(() => { insert.run(1); insert.run(2); return 'done'; })).toBe('done');
    expect(() => db.transaction(() => { insert.run(3); insert.run(1); })).toThrow(/UNIQUE/);
    expect(values()).toEqual([1, 2]);
    db.transaction(() => {
      insert.run(4);
      // The inner failure undoes the inner writes only; the outer transaction goes on and commits.
      expect(() => db.transaction(() => { insert.run(5); throw new Error('inner'); })).toThrow('inner');
      db.transaction(() => insert.run(6));
    });
    expect(values()).toEqual([1, 2, 4, 6]);
    expect(() => db.transaction(() => { db.transaction(() => insert.run(7)); throw new Error('outer'); })).toThrow('outer');
    expect(values()).toEqual([1, 2, 4, 6]);
    db.close();
    db.close(); // idempotent
    expect(db.isOpen).toBe(false);
  });
});
