import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decode, lenientBool, lenientId, lenientNumber, lenientString, normalizeSide, normalizeStatus, parseFormatted } from '../src/ibkr/decode.ts';
import { ResponseShapeError } from '../src/ibkr/errors.ts';
import { toQuote } from '../src/ibkr/market-data.ts';
import { planHistoryPages, formatStartTime } from '../src/ibkr/market-data.ts';
import { buildTicket } from '../src/ibkr/orders.ts';

describe('ibkr decoders', () => {
  it('decoders: formatted market values', () => {
    expect(parseFormatted('168.42')).toEqual({ value: 168.42, flag: undefined });
    expect(parseFormatted('C211.05')).toEqual({ value: 211.05, flag: 'prior-close' });
    expect(parseFormatted('H10.5')).toEqual({ value: 10.5, flag: 'halted' });
    expect(parseFormatted('1,300').value).toBe(1300);
    expect(parseFormatted('12.3M').value).toBeCloseTo(12_300_000);
    expect(parseFormatted('845K').value).toBe(845_000);
    expect(parseFormatted('1.2B').value).toBe(1_200_000_000);
    expect(parseFormatted('+1.04').value).toBe(1.04);
    expect(parseFormatted('-0.54%').value).toBe(-0.54);
    expect(parseFormatted('').value).toBeUndefined();
    expect(parseFormatted('N/A').value).toBeUndefined();
    expect(parseFormatted(null).value).toBeUndefined();
    expect(parseFormatted('abc').value).toBeUndefined();
    expect(parseFormatted(42).value).toBe(42);
  });

  it('decoders: lenient numbers, ids, strings, booleans', () => {
    const s = z.object({ a: lenientNumber, b: lenientNumber, c: lenientNumber, d: lenientId, e: lenientString, f: lenientBool, g: lenientNumber });
    expect(s.parse({ a: '1,234.5', b: '', c: null, d: '265598', e: 12, f: '1', g: 7 })).toEqual({
      a: 1234.5, b: undefined, c: undefined, d: 265598, e: '12', f: true, g: 7,
    });
    expect(() => s.parse({ a: 'x', b: 1, c: 1, d: 1, e: '', f: true, g: 1 })).toThrow();
  });

  it('decoders: a wrong shape names the endpoint and the field', () => {
    const schema = z.object({ orders: z.array(z.object({ orderId: lenientId })) });
    try {
      decode(schema, { orders: [{ orderId: 1 }, { orderId: 'abc' }] }, 'GET /iserver/account/orders');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ResponseShapeError);
      const e = err as ResponseShapeError;
      expect(e.endpoint).toBe('GET /iserver/account/orders');
      expect(e.field).toBe('orders.1.orderId');
      expect(e.message).toContain('orders.1.orderId');
    }
    expect(() => decode(schema, { orders: 'nope' }, 'GET /x')).toThrow(/field `orders`/);
  });

  it('decoders: snapshot rows to quotes with prefixes, separators and missing fields', () => {
    const q = toQuote({ conid: 265598, '31': 'C168.42', '84': '168.41', '86': '', '88': '1,300', '87': '12.3M', '6509': 'DPB', _updated: 1712596911593 }, 265598);
    expect(q.last).toBe(168.42);
    expect(q.lastFlag).toBe('prior-close');
    expect(q.bid).toBe(168.41);
    expect(q.ask).toBeUndefined();
    expect(q.bidSize).toBe(1300);
    expect(q.volume).toBeCloseTo(12.3e6);
    expect(q.availability).toBe('DPB');
    expect(q.updatedAt).toBe(1712596911593);
  });

  it('decoders: side and status vocabularies', () => {
    expect(normalizeSide('B')).toBe('BUY');
    expect(normalizeSide('SLD')).toBe('SELL');
    expect(normalizeSide('Buy')).toBe('BUY');
    expect(normalizeStatus('PreSubmitted')).toBe('PreSubmitted');
    expect(normalizeStatus('Pre Submitted')).toBe('PreSubmitted');
    expect(normalizeStatus('pending_cancel')).toBe('PendingCancel');
    expect(normalizeStatus('ApiCancelled')).toBe('Cancelled');
    expect(normalizeStatus('Something new')).toBe('Unknown');
  });

  it('decoders: history pages stay within 1000 points and cover the range', () => {
    const to = Date.UTC(2026, 0, 10, 0, 0, 0);
    const from = to - 3 * 86_400_000;
    const pages = planHistoryPages('1min', from, to);
    for (const p of pages) expect((p.endMs - p.startMs) / 60_000).toBeLessThanOrEqual(1000);
    expect(pages[0]!.endMs).toBe(to);
    expect(pages[pages.length - 1]!.startMs).toBeLessThanOrEqual(from);
    expect(pages[0]!.startTime).toBe(formatStartTime(to));
    expect(formatStartTime(to)).toBe('20260110-00:00:00');
    const daily = planHistoryPages('1d', to - 30 * 86_400_000, to);
    expect(daily).toHaveLength(1);
    expect(daily[0]!.period).toBe('30d');
  });

  it('decoders: crypto market buys become cashQty + IOC', () => {
    const t = buildTicket({ accountId: 'DU1', conid: 479624278, side: 'BUY', type: 'MKT', cashQty: 500, secType: 'CRYPTO', cOID: 'c1' });
    expect(t).toMatchObject({ cashQty: 500, tif: 'IOC', secType: '479624278:CRYPTO', cOID: 'c1' });
    expect(t).not.toHaveProperty('quantity');
    expect(() => buildTicket({ accountId: 'DU1', conid: 1, side: 'BUY', type: 'MKT', quantity: 1, secType: 'CRYPTO', cOID: 'c2' })).toThrow(/cashQty/);
    expect(() => buildTicket({ accountId: 'DU1', conid: 1, side: 'BUY', type: 'LMT', quantity: 1, cOID: 'c3' })).toThrow(/limit/);
    expect(buildTicket({ accountId: 'DU1', conid: 1, side: 'SELL', type: 'LMT', quantity: 2, price: 10, cOID: 'c4' })).toMatchObject({ tif: 'DAY', price: 10, quantity: 2 });
  });
});
