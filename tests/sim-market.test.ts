/**
 * Simulator conformance: accounts, contracts, market data (pre-flight, formats, history consistent
 * with the ticks, determinism, cointegration), trading hours. Reference: ibkr-cpapi.md §3, §4, §5.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { clientFor, sleep } from './support/sim-http.ts';

const TUE_RTH = '2026-03-10T15:00:00Z'; // Tuesday 11:00 New York (EDT)
const SAT = '2026-03-14T15:00:00Z';

const sims: RunningSimulator[] = [];
async function start(o: SimOptions = {}) {
  const sim = await startSimulator({ seed: 11, startTime: TUE_RTH, authenticated: true, pacing: false, ...o });
  sims.push(sim);
  const c = clientFor(sim);
  return { sim, ...c };
}
afterEach(async () => { await Promise.all(sims.splice(0).map((s) => s.close())); });

describe('sim accounts', () => {
  it('/iserver/accounts has the reference keys; /portfolio/accounts, summary, ledger, pnl too', async () => {
    const { api } = await start({ profile: 'realistic' });
    const a = await api('GET', '/iserver/accounts');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ accounts: ['DU1234567'], selectedAccount: 'DU1234567', isPaper: true, isFT: false, aliases: { DU1234567: 'DU1234567' } });
    expect(a.body.acctProps.DU1234567.supportsCashQty).toBe(true);
    expect(a.body.allowFeatures.allowCrypto).toBe(true);
    expect(a.body.sessionId).toBeTypeOf('string');

    // Portfolio routes need /portfolio/accounts first (realistic).
    expect((await api('GET', '/portfolio/DU1234567/summary')).status).toBe(500);
    const pa = await api('GET', '/portfolio/accounts');
    expect(pa.body[0]).toMatchObject({ id: 'DU1234567', accountId: 'DU1234567', currency: 'USD', type: 'DEMO', 'PrepaidCrypto-P': true });
    const sub = await api('GET', '/portfolio/subaccounts');
    expect(sub.body[0].id).toBe('DU1234567');
  });

  it('summary, ledger and partitioned P&L', async () => {
    const { api } = await start({ profile: 'ideal', accounts: { paper: { cash: 250_000 } } });
    await api('GET', '/portfolio/accounts');
    const s = await api('GET', '/portfolio/DU1234567/summary');
    expect(s.body.netliquidation).toMatchObject({ amount: 250000, currency: 'USD', isNull: false, value: null });
    expect(s.body.accountcode).toMatchObject({ value: 'DU1234567', amount: 0 });
    expect(s.body.totalcashvalue.amount).toBe(250000);
    const l = await api('GET', '/portfolio/DU1234567/ledger');
    expect(l.body.USD).toMatchObject({ acctcode: 'DU1234567', cashbalance: 250000, currency: 'USD', key: 'LedgerList', secondkey: 'USD' });
    expect(l.body.BASE.endofbundle).toBe(1);
    expect(l.body.USD.timestamp).toBeLessThan(1e11); // seconds, not ms
    const p = await api('GET', '/iserver/account/pnl/partitioned');
    expect(p.body.upnl['DU1234567.Core']).toMatchObject({ rowType: 1, nl: 250000, upl: 0 });
    expect((await api('GET', '/portfolio/U1234567/summary')).status).toBe(400);
  });

  it('pnl/partitioned is {"upnl":{}} on the first read of a realistic session', async () => {
    const { api } = await start();
    expect((await api('GET', '/iserver/account/pnl/partitioned')).body).toEqual({ upnl: {} });
  });
});

describe('sim contracts', () => {
  it('secdef search (GET and POST), contract info, trsrv stocks and secdef', async () => {
    const { api } = await start();
    const s = await api('GET', '/iserver/secdef/search?symbol=AAPL&secType=STK');
    expect(s.body[0]).toMatchObject({ conid: '265598', symbol: 'AAPL', companyName: 'APPLE INC', description: 'NASDAQ' });
    expect(s.body[0].sections[0]).toEqual({ secType: 'STK' });
    const c = await api('POST', '/iserver/secdef/search', { body: { symbol: 'BTC', secType: 'CRYPTO' } });
    expect(c.body).toEqual([expect.objectContaining({ conid: '479624278', symbol: 'BTC', sections: [{ secType: 'CRYPTO', exchange: 'PAXOS;' }] })]);
    const etf = await api('GET', '/iserver/secdef/search?symbol=ETHV');
    expect(etf.body[0].description).toBe('BATS');
    expect((await api('GET', '/iserver/secdef/search?symbol=NOPE')).body).toEqual([]);

    const info = await api('GET', '/iserver/contract/265598/info');
    expect(info.body).toMatchObject({ con_id: 265598, symbol: 'AAPL', instrument_type: 'STK', currency: 'USD', exchange: 'SMART', company_name: 'APPLE INC' });
    const ci = await api('GET', '/iserver/contract/495759171/info');
    expect(ci.body).toMatchObject({ instrument_type: 'CRYPTO', exchange: 'PAXOS' });

    const st = await api('GET', '/trsrv/stocks?symbols=ETHA,ETHV,SPY');
    expect(st.body.ETHA[0].contracts[0]).toEqual({ conid: 900000001, exchange: 'NASDAQ', isUS: true });
    expect(st.body.ETHV[0].contracts[0].exchange).toBe('BATS');
    expect(st.body.SPY[0]).toMatchObject({ name: 'SPDR S&P 500 ETF TRUST', assetClass: 'STK' });
    const sd = await api('GET', '/trsrv/secdef?conids=756733,479624278');
    expect(sd.body.secdef).toHaveLength(2);
    expect(sd.body.secdef[0]).toMatchObject({ conid: 756733, type: 'ETF', listingExchange: 'ARCA', ticker: 'SPY' });
    expect(sd.body.secdef[1]).toMatchObject({ assetClass: 'CRYPTO', listingExchange: 'PAXOS', incrementRules: [{ lowerEdge: 0, increment: 0.25 }] });
  });
});

describe('sim market data', () => {
  it('needs /iserver/accounts first, pre-flights the first snapshot, then returns formatted strings', async () => {
    const { api } = await start({ profile: 'realistic' });
    const early = await api('GET', '/iserver/marketdata/snapshot?conids=265598&fields=31,84,86');
    expect(early.status).toBe(400);
    expect(early.body).toEqual({ error: 'Please query /accounts first', statusCode: 400 });
    await api('GET', '/iserver/accounts');
    expect((await api('GET', '/iserver/marketdata/snapshot')).body).toEqual({ error: 'Bad Request: Conid(s) missing', statusCode: 400 });
    const pre = await api('GET', '/iserver/marketdata/snapshot?conids=265598,479624278&fields=31,84,86,85,88,87,55,7059,82,83,70,71,7762');
    expect(pre.status).toBe(200);
    expect(pre.body).toHaveLength(2);
    expect(pre.body[0]).toMatchObject({ conid: 265598, conidEx: '265598' });
    expect(pre.body[0]['31']).toBeUndefined();
    await sleep(350);
    const r = await api('GET', '/iserver/marketdata/snapshot?conids=265598,479624278');
    const aapl = r.body[0];
    expect(aapl.conid).toBe(265598);
    expect(aapl['31']).toMatch(/^\d+\.\d{2}$/);
    expect(aapl['84']).toMatch(/^\d+\.\d{2}$/);
    expect(Number(aapl['84'])).toBeLessThan(Number(aapl['86']));
    expect(aapl['88']).toMatch(/^[\d,]+$/);
    expect(aapl['87']).toMatch(/^[\d.]+[KM]?$/);
    expect(aapl['82']).toMatch(/^[+-]\d+\.\d{2}$/);
    expect(aapl['83']).toMatch(/^[+-]\d+\.\d{2}%$/);
    expect(aapl['55']).toBe('AAPL');
    expect(aapl['6509']).toBe('RpB');
    expect(aapl._updated).toBeTypeOf('number');
    const btc = r.body[1];
    expect(Number(btc['86']) - Number(btc['84'])).toBeGreaterThan(0);
    expect((Number(btc['84']) * 4) % 1).toBe(0); // BTC tick 0.25
    // Unsubscribe makes the next snapshot a pre-flight again.
    expect((await api('POST', '/iserver/marketdata/unsubscribe', { body: { conid: 265598 } })).body).toEqual({ success: true });
    expect((await api('POST', '/iserver/marketdata/unsubscribe', { body: { conid: 265598 } })).status).toBe(500);
    expect((await api('GET', '/iserver/marketdata/snapshot?conids=265598&fields=31')).body[0]['31']).toBeUndefined();
    expect((await api('GET', '/iserver/marketdata/unsubscribeall')).body).toEqual({ unsubscribed: true });
  });

  it('delayed market data: 15-minute-old values marked DPB / D, fills at the current market', async () => {
    const { api, hook } = await start({ profile: 'ideal', realism: { delayedMarketData: true } });
    const now = (await hook('GET', '/clock')).body.simTime;
    const r = await api('GET', '/iserver/marketdata/snapshot?conids=479624278&fields=31');
    expect(r.body[0]['6509']).toBe('DPB');
    expect(r.body[0]._updated).toBeLessThanOrEqual(now - 15 * 60_000 + 2_000);
    const old = (await hook('GET', `/quote?conid=479624278&t=${r.body[0]._updated}`)).body;
    expect(Number(r.body[0]['31'])).toBe(old.last);
    const h = await api('GET', '/iserver/marketdata/history?conid=479624278&bar=1min&period=30min');
    expect(h.body).toMatchObject({ mdAvailability: 'D', mktDataDelay: 900 });
    expect(h.body.data[h.body.data.length - 1].t).toBeLessThan(now - 15 * 60_000);
  });

  it('ideal profile: the first snapshot already has data', async () => {
    const { api } = await start({ profile: 'ideal' });
    const r = await api('GET', '/iserver/marketdata/snapshot?conids=756733&fields=31,84,86');
    expect(r.body[0]['31']).toMatch(/^\d+\.\d{2}$/);
  });

  it('stocks show the prior close with a C prefix while the market is shut; crypto keeps trading', async () => {
    const { api, hook } = await start({ profile: 'ideal', startTime: SAT });
    const r = await api('GET', '/iserver/marketdata/snapshot?conids=265598,495759171&fields=31,84,86');
    expect(r.body[0]['31']).toMatch(/^C\d+\.\d{2}$/);
    expect(r.body[1]['31']).toMatch(/^\d+\.\d{2}$/);
    // Frozen: the stock quote does not move while closed.
    const q1 = (await hook('GET', '/quote?conid=265598')).body;
    await hook('POST', '/clock', { advance: 3_600_000 });
    const q2 = (await hook('GET', '/quote?conid=265598')).body;
    expect(q2.last).toBe(q1.last);
    expect(q2.open).toBe(false);
  });

  it('the same seed gives the same market; another seed another one', async () => {
    const a = await start({ seed: 5, profile: 'ideal' });
    const b = await start({ seed: 5, profile: 'ideal' });
    const c = await start({ seed: 6, profile: 'ideal' });
    const t = Date.parse('2026-03-10T15:30:00Z');
    const qa = (await a.hook('GET', `/quote?conid=479624278&t=${t}`)).body;
    const qb = (await b.hook('GET', `/quote?conid=479624278&t=${t}`)).body;
    const qc = (await c.hook('GET', `/quote?conid=479624278&t=${t}`)).body;
    expect(qa).toEqual(qb);
    expect(qa.last).not.toBe(qc.last);
    const ha = await a.api('GET', '/iserver/marketdata/history?conid=900000001&bar=5min&period=1d');
    const hb = await b.api('GET', '/iserver/marketdata/history?conid=900000001&bar=5min&period=1d');
    expect(ha.body.data).toEqual(hb.body.data);
  });

  it('history bars agree with the ticks shown at those times', async () => {
    const { api, hook } = await start({ profile: 'ideal' });
    const h = await api('GET', '/iserver/marketdata/history?conid=265598&bar=1min&period=30min');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ symbol: 'AAPL', text: 'APPLE INC', priceFactor: 100, barLength: 60, mdAvailability: 'S', timePeriod: '30min' });
    expect(h.body.data.length).toBe(30);
    expect(h.body.startTime).toMatch(/^\d{8}-\d{2}:\d{2}:\d{2}$/);
    for (const bar of h.body.data.slice(0, 5)) {
      const ticks: number[] = [];
      for (let t = bar.t; t < bar.t + 60_000; t += 2_000) ticks.push((await hook('GET', `/quote?conid=265598&t=${t}`)).body.last);
      expect(bar.o).toBe(ticks[0]);
      expect(bar.c).toBe(ticks[ticks.length - 1]);
      expect(bar.h).toBe(Math.max(...ticks));
      expect(bar.l).toBe(Math.min(...ticks));
    }
    // Larger bars aggregate the same path: the 1h bar's high is the max of its minutes.
    const hh = await api('GET', '/iserver/marketdata/history?conid=479624278&bar=1h&period=2h');
    const mm = await api('GET', '/iserver/marketdata/history?conid=479624278&bar=1min&period=2h');
    const lastHour = hh.body.data[hh.body.data.length - 1];
    const inHour = mm.body.data.filter((b: { t: number }) => b.t >= lastHour.t && b.t < lastHour.t + 3_600_000);
    expect(lastHour.h).toBe(Math.max(...inHour.map((b: { h: number }) => b.h)));
    expect(lastHour.o).toBe(inHour[0].o);
  });

  it('stock history covers regular hours only; daily bars skip weekends', async () => {
    const { api } = await start({ profile: 'ideal' });
    const d = await api('GET', '/iserver/marketdata/history?conid=756733&bar=1d&period=10d');
    expect(d.body.data).toHaveLength(10);
    for (const b of d.body.data) {
      const day = new Date(b.t).getUTCDay();
      expect(day).toBeGreaterThanOrEqual(1);
      expect(day).toBeLessThanOrEqual(5);
    }
    const m = await api('GET', '/iserver/marketdata/history?conid=756733&bar=30min&period=2d');
    for (const b of m.body.data.filter((x: { t: number }) => x.t > Date.parse('2026-03-09T00:00:00Z'))) {
      const ny = new Date(b.t - 4 * 3_600_000); // EDT from 8 March 2026
      const mins = ny.getUTCHours() * 60 + ny.getUTCMinutes();
      expect(mins).toBeGreaterThanOrEqual(9 * 60 + 30);
      expect(mins).toBeLessThan(16 * 60);
    }
    expect((await api('GET', '/iserver/marketdata/history?conid=756733&bar=7min&period=1d')).status).toBe(400);
  });

  it('ETHA/ETHV are cointegrated (bounded log spread); AAPL/MSFT drift apart', async () => {
    const { api } = await start({ profile: 'ideal', startTime: '2026-09-15T19:00:00Z' });
    const get = async (conid: number) => (await api('GET', `/iserver/marketdata/history?conid=${conid}&bar=1d&period=1y`)).body.data.map((b: { c: number }) => Math.log(b.c));
    const [etha, ethv, aapl, msft] = await Promise.all([get(900000001), get(900000002), get(265598), get(272093)]);
    expect(etha.length).toBeGreaterThan(150);
    const sd = (x: number[]) => { const m = x.reduce((s, v) => s + v, 0) / x.length; return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length); };
    const spread = (a: number[], b: number[]) => a.map((v, i) => v - b[i]!);
    const cointSd = sd(spread(etha, ethv));
    const freeSd = sd(spread(aapl, msft));
    expect(cointSd).toBeLessThan(0.03);
    expect(sd(etha)).toBeGreaterThan(0.1); // each leg wanders, the spread does not
    expect(freeSd).toBeGreaterThan(cointSd * 2);
    // A year of history for four contracts is CPU work for the simulator: ~10 s idle, ~40 s beside a CPU hog.
  }, 120_000);
});
