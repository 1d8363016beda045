/**
 * The /sim/ test hooks: request log, clock (set, advance, speed), price-path override (live quotes,
 * fills and history follow it), cash, reset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { clientFor, sleep, eventually } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
async function start(o: SimOptions = {}) {
  sim = await startSimulator({ seed: 8, startTime: '2026-03-10T15:00:00Z', authenticated: true, profile: 'ideal', ...o });
  return { sim, ...clientFor(sim) };
}
afterEach(async () => { await sim?.close(); sim = undefined; });

describe('sim hooks', () => {
  it('logs every API request with times and statuses, never the hooks themselves', async () => {
    const { api, hook } = await start();
    const t0 = Date.now();
    await api('POST', '/tickle');
    await api('GET', '/nope');
    const log = (await hook('GET', `/requests?since=${t0}`)).body;
    expect(log.map((e: { method: string; path: string; status: number }) => `${e.method} ${e.path} ${e.status}`)).toEqual(['POST /tickle 200', 'GET /nope 404']);
    expect(log[0].simTime).toBeGreaterThanOrEqual(Date.parse('2026-03-10T15:00:00Z'));
    expect(log[0].at).toBeGreaterThanOrEqual(t0);
    await hook('DELETE', '/requests');
    expect((await hook('GET', '/requests')).body).toEqual([]);
    expect((await hook('GET', '/no-such-hook')).status).toBe(404);
  });

  it('runs the clock faster than real time; set and advance move it', async () => {
    const { hook } = await start({ speed: 60 });
    // The simulated time moved 60 times the wall time between the two reads, give or take the time
    // each read took (measured: on a busy machine a read and a 500 ms sleep can take seconds).
    const t0 = Date.now();
    const a = (await hook('GET', '/clock')).body.simTime;
    const t1 = Date.now();
    await sleep(500);
    const t2 = Date.now();
    const b = (await hook('GET', '/clock')).body.simTime;
    const t3 = Date.now();
    expect(b - a).toBeGreaterThanOrEqual(60 * (t2 - t1) - 60 * 50);
    expect(b - a).toBeLessThanOrEqual(60 * (t3 - t0) + 60 * 50);
    const set = (await hook('POST', '/clock', { set: '2026-04-01T14:00:00Z', speed: 1 })).body;
    expect(set.iso.startsWith('2026-04-01T14:00:0')).toBe(true);
    const adv = (await hook('POST', '/clock', { advance: 3_600_000 })).body;
    expect(adv.simTime - set.simTime).toBeGreaterThanOrEqual(3_600_000);
    expect((await hook('POST', '/clock', { set: 'not a date' })).status).toBe(400);
  });

  it('a price override drives quotes, fills and history', async () => {
    const { api, hook } = await start();
    const now = (await hook('GET', '/clock')).body.simTime;
    await hook('POST', '/price', { conid: 265598, price: 500, from: now - 10 * 60_000 });
    const snap = await api('GET', '/iserver/marketdata/snapshot?conids=265598&fields=31,84,86');
    expect(Number(snap.body[0]['31'])).toBe(500);
    const r = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'LMT', price: 499, side: 'SELL', tif: 'DAY', quantity: 1 }] } });
    expect(r.body[0].order_id).toBeDefined();
    const ex = (await eventually(() => hook('GET', '/executions'), (e) => e.body.length > 0)).body;
    expect(ex[0].price).toBeGreaterThanOrEqual(499.9);
    const h = await api('GET', '/iserver/marketdata/history?conid=265598&bar=1min&period=5min');
    expect(h.body.data.every((b: { c: number }) => b.c === 500)).toBe(true);
    await hook('DELETE', '/price');
    expect(Number((await api('GET', '/iserver/marketdata/snapshot?conids=265598&fields=31')).body[0]['31'])).not.toBe(500);
    expect((await hook('POST', '/price', { conid: 1, price: 2 })).status).toBe(400);
  });

  it('sets cash, and reset brings everything back', async () => {
    const { api, hook } = await start();
    await hook('POST', '/cash', { account: 'DU1234567', cash: 42 });
    await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'LMT', price: 1, side: 'BUY', tif: 'DAY', quantity: 1 }] } });
    await hook('POST', '/faults', { spec: 'latency=5' });
    expect((await hook('GET', '/portfolio')).body[0].cash).toBe(42);
    expect((await hook('POST', '/reset')).body).toEqual({ ok: true });
    expect((await hook('GET', '/portfolio')).body[0].cash).toBe(1_000_000);
    expect((await hook('GET', '/orders')).body).toEqual([]);
    expect((await hook('GET', '/faults')).body.latencyMs).toEqual([0, 0]);
    expect((await hook('GET', '/state')).body.session.brokerage).toBe(true);
  });

  it('realism flags and pacing change at run time', async () => {
    const { api, hook } = await start();
    await hook('POST', '/realism', { requireAccountsFirst: true });
    expect((await api('GET', '/iserver/marketdata/snapshot?conids=265598')).status).toBe(400);
    expect((await hook('POST', '/realism', { bogus: 1 })).status).toBe(400);
    await hook('POST', '/pacing', { enabled: true, globalPerSecond: 2 });
    const res = await Promise.all([1, 2, 3, 4].map(() => api('POST', '/iserver/auth/status')));
    expect(res.filter((r) => r.status === 429).length).toBe(2);
  });
});
