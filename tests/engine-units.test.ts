import { describe, expect, it } from 'vitest';
import { alignBars, BarBuilder, type AlignedBar } from '../src/engine/bar-builder.ts';
import { isCryptoWindow, isSessionMaintenance, isStockRegularHours, isTradable, nyTime, offsetAt, zoneOffsetAt } from '../src/engine/market-hours.ts';
import { BoundedMap, BoundedSet } from '../src/util/bounded.ts';
import { ACCOUNT, checkOrders, checkShortability, DailyLossGuard, Refusal, RiskEngine } from '../src/engine/risk.ts';
import { checkSharedContracts, runnerSpecs } from '../src/engine/runner-spec.ts';
import { testParams } from './helpers/params.ts';
import { checkAccountForMode, confirmLive, isPaperAccountId } from '../src/engine/mode-guard.ts';
import { orderFor } from '../src/engine/pair-executor.ts';
import { Portfolio } from '../src/engine/portfolio.ts';

const MIN = 60_000;
// Tuesday 2026-11-24 14:30 UTC = 09:30 New York (EST).
const OPEN = Date.UTC(2026, 10, 24, 14, 30);

describe('engine bar builder', () => {
  it('builds OHLC bars by event time and emits aligned bars when the watermark passes', () => {
    const out: AlignedBar[] = [];
    const b = new BarBuilder(5 * MIN, [1, 2], (bar) => out.push(bar));
    b.onTick(1, OPEN + 1000, 10);
    b.onTick(2, OPEN + 2000, 20);
    b.onTick(1, OPEN + 60_000, 12);
    b.onTick(1, OPEN + 120_000, 9);
    b.onTick(2, OPEN + 299_999, 21);
    expect(out).toHaveLength(0);
    b.onTick(1, OPEN + 5 * MIN, 11); // first tick of the next bar closes the previous one
    expect(out).toHaveLength(1);
    expect(out[0]!.time).toBe(OPEN);
    expect(out[0]!.legs[0]).toMatchObject({ open: 10, high: 12, low: 9, close: 9 });
    expect(out[0]!.legs[1]).toMatchObject({ open: 20, high: 21, low: 20, close: 21 });
    // A late tick for a closed bar is ignored and counted.
    b.onTick(2, OPEN + 100, 99);
    expect(b.lateTicks).toBe(1);
  });

  it('drops a bar time at which one leg had no tick (inner join), and closes several bars at a jump', () => {
    const out: AlignedBar[] = [];
    const b = new BarBuilder(MIN, [1, 2], (bar) => out.push(bar));
    b.onTick(1, OPEN, 10);
    b.onTick(2, OPEN + 10, 20);
    b.onTick(1, OPEN + MIN, 11); // leg 2 silent in this minute
    b.onTick(1, OPEN + 2 * MIN, 12);
    b.onTick(2, OPEN + 2 * MIN + 1, 22);
    b.onTick(1, OPEN + 5 * MIN, 13);
    expect(out.map((x) => (x.time - OPEN) / MIN)).toEqual([0, 2]);
    expect(b.droppedBars).toBe(1);
  });

  it('aligns history by inner join on time', () => {
    const bar = (time: number, c: number) => ({ time, open: c, high: c, low: c, close: c, volume: 0 });
    const a = alignBars([[bar(3, 1), bar(1, 1), bar(2, 1)], [bar(2, 2), bar(3, 2)]]);
    expect(a.map((x) => x.time)).toEqual([2, 3]);
  });
});

describe('engine market hours', () => {
  it('knows US regular hours, the crypto window and the session maintenance window in New York time', () => {
    expect(isStockRegularHours(OPEN)).toBe(true);
    expect(isStockRegularHours(OPEN - 1)).toBe(false);
    expect(isStockRegularHours(OPEN + 390 * MIN)).toBe(false); // 16:00
    const saturday = Date.UTC(2026, 10, 28, 15, 0);
    expect(isStockRegularHours(saturday)).toBe(false);
    expect(isCryptoWindow(saturday)).toBe(false);
    expect(isCryptoWindow(Date.UTC(2026, 10, 29, 7, 59))).toBe(false); // Sunday 02:59 NY
    expect(isCryptoWindow(Date.UTC(2026, 10, 29, 8, 0))).toBe(true); // Sunday 03:00 NY
    expect(isCryptoWindow(Date.UTC(2026, 10, 27, 20, 59))).toBe(true); // Friday 15:59 NY
    expect(isCryptoWindow(Date.UTC(2026, 10, 27, 21, 0))).toBe(false); // Friday 16:00 NY
    expect(isTradable('CRYPTO', Date.UTC(2026, 10, 25, 3, 0))).toBe(true); // Tuesday night
    expect(isTradable('STK', Date.UTC(2026, 10, 24, 12, 0), true)).toBe(true); // 07:00 NY pre-market
    expect(isSessionMaintenance(Date.UTC(2026, 10, 25, 5, 30))).toBe(true); // 00:30 NY
    expect(isSessionMaintenance(OPEN)).toBe(false);
  });

  it('the US rule since 2007 gives the time zone database\'s New York offset at every hour of 2007–2026 (outside them the database is asked)', () => {
    let hours = 0;
    let wrong = 0;
    for (let t = Date.UTC(2007, 0, 1); t < Date.UTC(2027, 0, 1); t += 3_600_000) {
      hours++;
      if (offsetAt(t) !== zoneOffsetAt(t)) wrong++;
    }
    expect(hours).toBeGreaterThan(175_000);
    expect(wrong).toBe(0);
    // The switches themselves, to the minute: 2026-03-08 07:00 UTC and 2026-11-01 06:00 UTC.
    expect([offsetAt(Date.UTC(2026, 2, 8, 6, 59)), offsetAt(Date.UTC(2026, 2, 8, 7, 0))]).toEqual([-5 * 3_600_000, -4 * 3_600_000]);
    expect([offsetAt(Date.UTC(2026, 10, 1, 5, 59)), offsetAt(Date.UTC(2026, 10, 1, 6, 0))]).toEqual([-4 * 3_600_000, -5 * 3_600_000]);
    // Before 2007 (DST then ended in late October): the database's.
    expect(offsetAt(Date.UTC(2006, 9, 30, 12))).toBe(zoneOffsetAt(Date.UTC(2006, 9, 30, 12)));
    expect(offsetAt(Date.UTC(2006, 9, 30, 12))).toBe(-5 * 3_600_000);
  });

  it('New York time by arithmetic agrees with Intl minute by minute around the clock changes, in any order of asking', () => {
    const intl = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    const times: number[] = [];
    for (const year of [2006, 2007, 2026, 2037]) {
      for (const [month, day] of [[2, 1], [9, 25]] as const) {
        // 15 days either side of the spring and autumn changes, every 7 minutes.
        for (let t = Date.UTC(year, month, day); t < Date.UTC(year, month, day) + 45 * 86_400_000; t += 7 * MIN) times.push(t);
      }
    }
    // Jumps between years and seasons as well as steps (the offset is cached per block of days).
    const order = [...times.keys()].sort((a, b) => ((a * 7919) % times.length) - ((b * 7919) % times.length));
    let wrong = 0;
    for (const i of [...times.keys(), ...order]) {
      const t = times[i]!;
      const p: Record<string, string> = {};
      for (const x of intl.formatToParts(new Date(t))) p[x.type] = x.value;
      const ny = nyTime(t);
      if (ny.minutes !== Number(p.hour) * 60 + Number(p.minute) || ny.date !== `${p.year}-${p.month}-${p.day}`) wrong++;
    }
    expect(times.length).toBeGreaterThan(50_000);
    expect(wrong).toBe(0);
  });
});

describe('bounded collections', () => {
  it('forget their oldest entries first, a deleted and re-added member counting as new, past many evictions', () => {
    const set = new BoundedSet<number>(3);
    const map = new BoundedMap<string, number>(3);
    for (let i = 0; i < 20_000; i++) {
      set.add(i);
      map.set(`k${i}`, i);
    }
    expect([19_997, 19_998, 19_999].every((i) => set.has(i))).toBe(true);
    expect(set.has(19_996)).toBe(false);
    expect(map.get('k19997')).toBe(19_997);
    expect(map.get('k19996')).toBeUndefined();
    // 19997 leaves and comes back: it is now the newest, so 19998 goes first.
    set.delete(19_997);
    set.add(19_997);
    set.add(20_000);
    expect(set.has(19_998)).toBe(false);
    expect([19_999, 19_997, 20_000].every((i) => set.has(i))).toBe(true);
    // Setting a present key again keeps its place.
    map.set('k19997', -1);
    map.set('k20000', 20_000);
    expect(map.get('k19997')).toBeUndefined();
    expect(map.get('k19998')).toBe(19_998);
    expect(set.size).toBe(3);
  });
});

describe('engine risk checks', () => {
  const limits = { maxGrossNotional: 10_000, maxPositionNotional: 6_000, maxDailyLoss: 500, allowOutsideRth: false };
  it('refuses orders above the per-leg and gross limits but lets reducing orders through', () => {
    const leg = (symbol: string, currentQty: number, targetQty: number, price = 10) => ({ symbol, secType: 'STK' as const, currentQty, targetQty, price });
    expect(checkOrders(limits, [leg('A', 0, 500), leg('B', 0, -400)], OPEN)).toEqual({ ok: true });
    expect(checkOrders(limits, [leg('A', 0, 700), leg('B', 0, -100)], OPEN)).toMatchObject({ ok: false, rule: 'max-position', symbol: 'A', reason: 'position in A would be 7000.00, above risk.maxPositionNotional 6000' });
    expect(checkOrders(limits, [leg('A', 0, 550), leg('B', 0, -550)], OPEN)).toMatchObject({ ok: false, rule: 'max-gross', symbol: null, reason: 'gross notional would be 11000.00, above risk.maxGrossNotional 10000' });
    // The account's other gross counts toward the gross limit, a number or a function.
    expect(checkOrders(limits, [leg('A', 0, 400), leg('B', 0, -400)], OPEN, 2_500)).toMatchObject({ ok: false, rule: 'max-gross' });
    expect(checkOrders(limits, [leg('A', 0, 400), leg('B', 0, -400)], OPEN, () => 2_500)).toMatchObject({ ok: false, rule: 'max-gross' });
    expect(checkOrders(limits, [leg('A', 0, 400), leg('B', 0, -400)], OPEN, () => 1_500)).toEqual({ ok: true });
    expect(checkOrders(limits, [leg('A', 900, 0), leg('B', -900, 0)], OPEN)).toEqual({ ok: true });
    expect(checkOrders(limits, [leg('A', 0, 10)], OPEN - MIN)).toMatchObject({ ok: false, rule: 'market-closed', symbol: 'A', reason: `market closed for A (STK) at ${new Date(OPEN - MIN).toISOString()}` });
  });

  it('a refusal makes its text only when read, and serialises as its reason and rule', () => {
    const leg = (symbol: string, currentQty: number, targetQty: number) => ({ symbol, secType: 'STK' as const, currentQty, targetQty, price: 10 });
    let summed = 0;
    // Outside market hours the account's gross is never summed: the refusal comes first.
    const closed = checkOrders(limits, [leg('A', 0, 10)], OPEN - MIN, () => ++summed);
    expect(summed).toBe(0);
    expect(closed).toBeInstanceOf(Refusal);
    const r = closed as Refusal;
    expect(JSON.parse(JSON.stringify({ detail: r }))).toEqual({ detail: { reason: r.reason, rule: 'market-closed' } });
    let made = 0;
    const lazy = new Refusal('max-gross', null, () => `text ${++made}`);
    expect(made).toBe(0);
    expect([lazy.reason, lazy.reason, made]).toEqual(['text 1', 'text 1', 1]);
  });

  it('trips the daily loss guard against the New York day start and resets the next day', () => {
    const g = new DailyLossGuard(500);
    expect(g.update(OPEN, 100_000)).toBeUndefined();
    expect(g.update(OPEN + MIN, 99_600)).toBeUndefined();
    expect(g.update(OPEN + 2 * MIN, 99_500)).toBe(500);
    expect(g.update(OPEN + 24 * 60 * MIN, 99_000)).toBeUndefined();
  });

  it('refuses crypto legs with shortMode hedge', () => {
    expect(() => checkShortability([{ symbol: 'BTC', secType: 'CRYPTO' }, { symbol: 'ETH', secType: 'CRYPTO' }], 'hedge', 'x.yaml')).toThrow(/long-only/);
    expect(() => checkShortability([{ symbol: 'BTC', secType: 'CRYPTO' }], 'long-only', 'x.yaml')).not.toThrow();
  });

  it('sends crypto market buys as cash-quantity IOC orders', () => {
    const btc = { symbol: 'BTC', secType: 'CRYPTO' as const, exchange: 'PAXOS', currency: 'USD', conid: 479624278 };
    expect(orderFor({ instrument: btc, side: 'BUY', qty: 0.01, price: 50_000 }, false)).toEqual({ instrument: btc, side: 'BUY', cashQty: 500, orderType: 'MKT', tif: 'IOC' });
    expect(orderFor({ instrument: btc, side: 'SELL', qty: 0.01, price: 50_000 }, false)).toEqual({ instrument: btc, side: 'SELL', quantity: 0.01, orderType: 'MKT', tif: 'IOC' });
  });
});

describe('engine modes and accounts', () => {
  it('refuses a live account in paper mode and a paper account in live mode', () => {
    expect(isPaperAccountId('DU1234567')).toBe(true);
    expect(isPaperAccountId('DF1234567')).toBe(true);
    expect(isPaperAccountId('U1234567')).toBe(false);
    expect(() => checkAccountForMode('paper', 'U1234567')).toThrow(/paper mode refuses/);
    expect(() => checkAccountForMode('live', 'DU1234567')).toThrow(/live mode refuses/);
    expect(() => checkAccountForMode('live', 'U1234567')).not.toThrow();
  });

  it('live needs live.enabled and a confirmation', async () => {
    await expect(confirmLive('U1', { liveEnabled: false, yes: true, interactive: false })).rejects.toThrow(/live.enabled/);
    await expect(confirmLive('U1', { liveEnabled: true, yes: false, interactive: false })).rejects.toThrow(/--yes/);
    await expect(confirmLive('U1', { liveEnabled: true, yes: true, interactive: false })).resolves.toBeUndefined();
    await expect(confirmLive('U1', { liveEnabled: true, yes: false, interactive: true, ask: async () => 'U2' })).rejects.toThrow(/not confirmed/);
    await expect(confirmLive('U1', { liveEnabled: true, yes: false, interactive: true, ask: async () => ' U1 ' })).resolves.toBeUndefined();
  });
});

describe('engine portfolio', () => {
  it('tracks quantities, average cost and cash through fills, per strategy book', () => {
    const pf = new Portfolio();
    const p = pf.addBook('a', 10_000);
    p.applyFill(1, 'A', 'BUY', 10, 100, 1);
    p.applyFill(1, 'A', 'BUY', 10, 110, 1);
    expect(p.qty(1)).toBe(20);
    expect(p.all()[0]!.avgCost).toBe(105);
    expect(p.cash).toBe(10_000 - 1000 - 1100 - 2);
    p.applyFill(1, 'A', 'SELL', 20, 120, 1);
    expect(p.qty(1)).toBe(0);
    expect(p.cash).toBe(10_000 - 2100 - 2 + 2400 - 1);
    pf.setPrice(2, 50);
    p.applyFill(2, 'B', 'SELL', 10, 50, 0);
    expect(pf.paperEquity('a')).toBeCloseTo(p.cash - 500);
  });

  it('keeps each strategy\'s fills in its own book; the account position is their sum', () => {
    const pf = new Portfolio();
    const a = pf.addBook('a', 50_000);
    const b = pf.addBook('b', 50_000);
    a.applyFill(1, 'ETHA', 'BUY', 100, 20, 1);
    b.applyFill(1, 'ETHA', 'SELL', 40, 21, 1);
    b.applyFill(2, 'BTC', 'BUY', 0.1, 90_000, 5);
    expect(pf.accountQty(1)).toBe(60);
    expect(a.qty(2)).toBe(0);
    pf.setPrice(1, 20);
    pf.setPrice(2, 90_000);
    expect(pf.paperEquity('a')).toBeCloseTo(50_000 - 1);
    expect(pf.paperEquity('b')).toBeCloseTo(50_000 + 40 * 21 - 40 * 20 - 6);
    expect(pf.grossNotional()).toBeCloseTo(60 * 20 + 0.1 * 90_000);
  });
});

describe('engine runner specs', () => {
  const etf = { name: 'etf', strategy: testParams({ legs: { y: { symbol: 'ETHA', secType: 'STK', exchange: 'SMART' }, x: { symbol: 'ETHV', secType: 'STK', exchange: 'SMART' } }, lookback: 40, gate: { every: 10, lookback: 60, maxPValue: 0.05 } }) };
  const crypto = { name: 'crypto', strategy: testParams({ legs: { y: { symbol: 'BTC', secType: 'CRYPTO', exchange: 'PAXOS' }, x: { symbol: 'ETH', secType: 'CRYPTO', exchange: 'PAXOS' } }, shortMode: 'long-only' }) };

  it('one place reads warm-up, bar size, legs and short rules from the strategy, and splits the capital', () => {
    const [a, b] = runnerSpecs([etf, crypto]);
    expect(a!.warmupBars).toBe(59); // max(lookback, gate.lookback) - 1
    expect(b!.warmupBars).toBe(39);
    expect(a!.barMinutes).toBe(5);
    expect(b!.shortMode).toBe('long-only');
    expect([a!.capitalShare, b!.capitalShare]).toEqual([0.5, 0.5]);
    const [c, d] = runnerSpecs([{ ...etf, capitalShare: 0.7 }, crypto]);
    expect(c!.capitalShare).toBe(0.7);
    expect(d!.capitalShare).toBeCloseTo(0.3);
    expect(() => runnerSpecs([{ ...etf, capitalShare: 0.7 }, { ...crypto, capitalShare: 0.6 }])).toThrow(/add up to 1.3/);
    expect(() => runnerSpecs([etf, { ...crypto, name: 'etf' }])).toThrow(/two strategies are named "etf"/);
  });

  it('refuses two strategies on the same contract unless both allow it', () => {
    expect(() => checkSharedContracts(runnerSpecs([etf, { ...etf, name: 'etf2' }]))).toThrow(/both trade ETHA/);
    expect(() => checkSharedContracts(runnerSpecs([{ ...etf, allowSharedContracts: true }, { ...etf, name: 'etf2', allowSharedContracts: true }]))).not.toThrow();
    expect(() => checkSharedContracts(runnerSpecs([etf, crypto]))).not.toThrow();
  });

  it('risk engine: one trading state per scope, the stricter of account and strategy wins, reasons clear independently', () => {
    const changes: string[] = [];
    const r = new RiskEngine({ maxGrossNotional: 1e6, maxPositionNotional: 1e6, maxDailyLoss: 1e6, allowOutsideRth: true }, (scope, state, reason) => changes.push(`${scope}:${state}:${reason}`));
    const t = Date.UTC(2026, 2, 3, 15, 0);
    const grow = [{ symbol: 'A', secType: 'STK' as const, currentQty: 0, targetQty: 10, price: 10 }];
    const shrink = [{ symbol: 'A', secType: 'STK' as const, currentQty: 10, targetQty: 0, price: 10 }];
    expect(r.check('s', grow, t, 0).ok).toBe(true);
    r.set('s', 'operator', 'reducing');
    expect(r.check('s', grow, t, 0).ok).toBe(false);
    expect(r.check('s', shrink, t, 0).ok).toBe(true);
    expect(r.check('other', grow, t, 0).ok).toBe(true);
    r.set(ACCOUNT, 'session down', 'halted');
    r.set(ACCOUNT, 'shutdown', 'halted');
    expect(r.check('other', shrink, t, 0)).toMatchObject({ ok: false, rule: 'halted', reason: expect.stringMatching(/trading halted/) });
    r.set(ACCOUNT, 'session down', null); // the session coming back does not clear the shutdown
    expect(r.stateFor('other')).toBe('halted');
    r.set(ACCOUNT, 'shutdown', null);
    expect(r.stateFor('other')).toBe('active');
    expect(r.stateFor('s')).toBe('reducing');
    expect(changes[0]).toBe('s:reducing:operator');
  });
});
