import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../src/store/journal.ts';

const dirs: string[] = [];
function tempJournal(): { j: Journal; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-journal-'));
  dirs.push(dir);
  const file = join(dir, 'data', 'journal.sqlite');
  return { j: new Journal(file), file };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const order = { cOID: 'tdm-a-1', intentId: 'enter-1', leg: 'y', conid: 1, symbol: 'ETHA', side: 'BUY' as const, quantity: 10, cashQty: null, orderType: 'MKT', tif: 'DAY' };

describe('journal', () => {
  it('uses WAL and survives reopening with orders, events, fills, positions and strategy state', () => {
    const { j, file } = tempJournal();
    expect(j.db.pragma('journal_mode', { simple: true })).toBe('wal');
    j.recordNewOrder(order, 1000);
    j.updateOrder('tdm-a-1', 'working', { brokerOrderId: '555' }, 1001);
    expect(j.recordFill({ execId: 'e1', cOID: 'tdm-a-1', brokerOrderId: '555', conid: 1, side: 'BUY', qty: 10, price: 25, commission: 1, time: 1002 })).toBe(true);
    expect(j.recordFill({ execId: 'e1', cOID: 'tdm-a-1', brokerOrderId: '555', conid: 1, side: 'BUY', qty: 10, price: 25, commission: 1, time: 1002 })).toBe(false);
    j.updateOrder('tdm-a-1', 'filled', { filledQty: 10, avgPrice: 25 }, 1003);
    j.setPosition(1, 'ETHA', 10, 25);
    j.saveStrategyState(5000, { type: 'cointegration', version: 1, position: { side: 'LONG' } });
    j.setMeta('coidSeq', '1');
    j.close();

    const j2 = new Journal(file);
    const o = j2.order('tdm-a-1')!;
    expect(o.state).toBe('filled');
    expect(o.brokerOrderId).toBe('555');
    expect(o.filledQty).toBe(10);
    expect(j2.orderEvents('tdm-a-1').map((e) => e.state)).toEqual(['new', 'working', 'filled']);
    expect(j2.fills()).toHaveLength(1);
    expect(j2.positions()).toEqual([{ conid: 1, symbol: 'ETHA', qty: 10, avgCost: 25 }]);
    expect(j2.loadStrategyState()).toEqual({ barTime: 5000, state: { type: 'cointegration', version: 1, position: { side: 'LONG' } } });
    expect(j2.getMeta('coidSeq')).toBe('1');
    expect(j2.openOrders()).toHaveLength(0);
    j2.close();
  });

  it('refuses to record the same cOID twice and lists open orders', () => {
    const { j } = tempJournal();
    j.recordNewOrder(order);
    expect(() => j.recordNewOrder(order)).toThrow(/UNIQUE/);
    j.recordNewOrder({ ...order, cOID: 'tdm-a-2' });
    j.updateOrder('tdm-a-2', 'unknown', { error: 'timeout' });
    expect(j.openOrders().map((o) => [o.cOID, o.state])).toEqual([['tdm-a-1', 'new'], ['tdm-a-2', 'unknown']]);
    expect(j.order('tdm-a-2')!.lastError).toBe('timeout');
    j.close();
  });

  it('keeps live bars apart from warm-up bars, and decisions and incidents in order', () => {
    const { j } = tempJournal();
    j.recordBars([{ time: 1, symbol: 'A', open: 1, high: 1, low: 1, close: 1, volume: 0 }], true);
    j.recordBars([{ time: 2, symbol: 'A', open: 2, high: 2, low: 2, close: 2, volume: 0 }]);
    expect(j.bars().map((b) => b.time)).toEqual([2]);
    expect(j.bars(true).map((b) => b.time)).toEqual([1, 2]);
    j.recordDecision(2, 'enter-LONG', { z: -2.1 });
    j.recordIncident('legging', { leg: 'x' });
    expect(j.decisions()).toEqual([{ barTime: 2, action: 'enter-LONG', detail: '{"z":-2.1}' }]);
    expect(j.incidents().map((i) => i.kind)).toEqual(['legging']);
    j.close();
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
