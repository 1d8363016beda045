/**
 * Simulator conformance: pacing (global and per-endpoint 429s, penalty box) and every fault
 * (latency, 500/503 shares, hangs, order 503 that still places, injected rejections, scheduled
 * session drops, competing session, websocket drops). Reference §9, §11 items 5, 15; §12.3 items 13, 15.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaultSpec, startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { clientFor, sleep, WsRecorder, eventually } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
async function start(o: SimOptions = {}) {
  sim = await startSimulator({ seed: 5, startTime: '2026-03-10T15:00:00Z', authenticated: true, profile: 'ideal', ...o });
  return { sim, ...clientFor(sim) };
}
afterEach(async () => { await sim?.close(); sim = undefined; });

describe('sim pacing', () => {
  it('answers 429 beyond 10 requests per second (global limit)', async () => {
    const { api } = await start({ pacing: true });
    const res = await Promise.all(Array.from({ length: 15 }, () => api('POST', '/iserver/auth/status')));
    const statuses = res.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const limited = res.find((r) => r.status === 429)!;
    expect(limited.body.error).toMatch(/Too many requests/);
    expect(limited.headers['retry-after']).toBeDefined();
    await sleep(1_050);
    expect((await api('POST', '/iserver/auth/status')).status).toBe(200);
  });

  it('applies the per-endpoint limits of §9.3 (tickle 1/s, live orders 1/5 s)', async () => {
    const { api } = await start({ pacing: true });
    expect((await api('POST', '/tickle')).status).toBe(200);
    expect((await api('POST', '/tickle')).status).toBe(429);
    await api('GET', '/iserver/accounts');
    expect((await api('GET', '/iserver/account/orders')).status).toBe(200);
    expect((await api('GET', '/iserver/account/orders')).status).toBe(429);
    expect((await api('GET', '/iserver/account/trades')).status).toBe(200); // own bucket
    await sleep(1_050);
    expect((await api('POST', '/tickle')).status).toBe(200);
  });

  it('puts repeated violators in the penalty box (every request 429 until it ends)', async () => {
    // A penalty long enough that the state read right after the 429 is inside it on a busy machine.
    const { api, hook } = await start({ pacing: { enabled: true, penaltyAfterViolations: 3, penaltyMs: 3_000 } });
    for (let i = 0; i < 4; i++) await api('POST', '/tickle');
    const st = await api('POST', '/iserver/auth/status');
    expect(st.status).toBe(429);
    expect(st.body.error).toMatch(/penalty/);
    const penaltyUntil = (await hook('GET', '/state')).body.pacing.penaltyUntil as number;
    expect(penaltyUntil).toBeGreaterThan(Date.now());
    // Wait for the end the simulator itself reports (no request meanwhile: one would be a violation).
    await sleep(Math.max(0, penaltyUntil - Date.now()) + 50);
    expect((await api('POST', '/iserver/auth/status')).status).toBe(200);
  });

  it('pacing off answers everything', async () => {
    const { api } = await start({ pacing: false });
    const res = await Promise.all(Array.from({ length: 30 }, () => api('POST', '/tickle')));
    expect(res.every((r) => r.status === 200)).toBe(true);
  });
});

describe('sim faults', () => {
  it('parses the compact spec and refuses bad items', () => {
    const f = parseFaultSpec('latency=100-300,error5xx=0.1,hang=0.02,order503=1,order503Delay=250,reject=265598:2,reject=*,inactive=8314,dropSession@30s,competing@1m,wsDrop@500ms');
    expect(Object.fromEntries(f.inactive)).toEqual({ 8314: 1 });
    expect(f.latencyMs).toEqual([100, 300]);
    expect(f.error500).toBeCloseTo(0.05);
    expect(f.error503).toBeCloseTo(0.05);
    expect(f.hang).toBe(0.02);
    expect(f.order503DelayMs).toBe(250);
    expect(Object.fromEntries(f.reject)).toEqual({ 265598: 2, '*': 1 });
    expect(f.scheduled).toEqual([{ atMs: 30_000, action: 'dropSession' }, { atMs: 60_000, action: 'competing' }, { atMs: 500, action: 'wsDrop' }]);
    expect(() => parseFaultSpec('error5xx=2')).toThrow(/probability/);
    expect(() => parseFaultSpec('explode@3s')).toThrow(/unknown action/);
    expect(() => parseFaultSpec('wat=1')).toThrow(/unknown key/);
  });

  it('adds latency', async () => {
    const { api } = await start({ faults: 'latency=150' });
    const t0 = Date.now();
    await api('POST', '/iserver/auth/status');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('answers a share of requests 500 or 503 with the gateway bodies', async () => {
    const { api } = await start({ faults: 'error500=1' });
    const r = await api('POST', '/iserver/auth/status');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: 'Internal Server Error', statusCode: 500 });
    const { hook } = clientFor(sim!);
    await hook('POST', '/faults', { spec: 'error503=1', replace: true });
    const r2 = await api('POST', '/iserver/auth/status');
    expect(r2.status).toBe(503);
    expect(r2.body).toEqual({ error: 'Service Unavailable', statusCode: 503 });
    await hook('DELETE', '/faults');
    expect((await api('POST', '/iserver/auth/status')).status).toBe(200);
    // A share: roughly half of 200 requests.
    await hook('POST', '/faults', { spec: 'error5xx=0.5' });
    const many = await Promise.all(Array.from({ length: 200 }, () => api('GET', '/iserver/auth/status')));
    const bad = many.filter((x) => x.status >= 500).length;
    expect(bad).toBeGreaterThan(60);
    expect(bad).toBeLessThan(140);
  });

  it('hangs requests: no answer ever comes', async () => {
    const { api } = await start({ faults: 'hang=1' });
    await expect(api('POST', '/iserver/auth/status', { timeoutMs: 400 })).rejects.toThrow(/timeout/i);
  });

  it('order503: the caller gets a 503 after the delay, yet the order was placed (reconcile by cOID)', async () => {
    const { api, hook } = await start({ faults: 'order503=1,order503Delay=300' });
    await api('GET', '/iserver/accounts');
    const t0 = Date.now();
    const r = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 2, cOID: 'lost-1' }] } });
    expect(r.status).toBe(503);
    expect(r.text).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    const orders = (await hook('GET', '/orders')).body;
    expect(orders).toHaveLength(1);
    expect(orders[0].cOID).toBe('lost-1');
    await hook('DELETE', '/faults');
    const live = await api('GET', '/iserver/account/orders?force=true');
    expect(live.status).toBe(200);
    const list = await api('GET', '/iserver/account/orders');
    expect(list.body.orders[0].order_ref).toBe('lost-1');
    const again = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 2, cOID: 'lost-1' }] } });
    expect(again.body.error).toMatch(/already registered/);
  });

  it('rejects the next order for a conid when told to', async () => {
    const { api, hook } = await start();
    await api('GET', '/iserver/accounts');
    await hook('POST', '/faults', { spec: 'reject=265598' });
    const place = () => api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 }] } });
    const r = await place();
    expect(r.status).toBe(200);
    expect(r.body.error).toMatch(/^Order rejected - reason:/);
    expect((await place()).body[0].order_id).toBeDefined();
  });

  it('accepts an order and then turns it Inactive when told to (rejected downstream)', async () => {
    const { api, hook } = await start();
    await api('GET', '/iserver/accounts');
    await hook('POST', '/faults', { spec: 'inactive=265598' });
    const r = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 }] } });
    expect(r.body[0].order_status).toBe('PreSubmitted');
    const id = Number(r.body[0].order_id);
    let st = await api('GET', `/iserver/account/order/status/${id}`);
    for (let i = 0; i < 40 && st.body.order_status !== 'Inactive'; i++) {
      await sleep(50);
      st = await api('GET', `/iserver/account/order/status/${id}`);
    }
    expect(st.body).toMatchObject({ order_status: 'Inactive', text: 'Order rejected downstream (fault injection)' });
    expect((await hook('GET', '/executions')).body).toEqual([]);
  });

  it('scheduled session drop and competing login', async () => {
    // Offsets are generous and each state is polled for, so a loaded machine cannot make the
    // test read a state before (or after) the scheduled fault.
    const { api } = await start({ faults: 'dropSession@1500ms,competing@4500ms', tickMs: 20 });
    expect((await api('POST', '/iserver/auth/status')).body.authenticated).toBe(true);
    const until = async (pred: (b: Record<string, unknown>) => boolean, ms: number) => {
      const end = Date.now() + ms;
      for (;;) {
        const body = (await api('POST', '/iserver/auth/status')).body as Record<string, unknown>;
        if (pred(body) || Date.now() > end) return body;
        await sleep(100);
      }
    };
    expect(await until((b) => b.authenticated === false, 2_800)).toMatchObject({ authenticated: false, competing: false });
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(await until((b) => b.competing === true, 6_000)).toMatchObject({ authenticated: false, competing: true });
    expect((await api('GET', '/iserver/accounts')).status).toBe(401);
  });

  it('drops websockets on demand (hook) and on schedule', async () => {
    // The scheduled drop comes late enough for the second socket to be open by then on a busy machine.
    const { api, hook } = await start({ faults: 'wsDrop@5000ms', tickMs: 20, realism: { wsGreetingDelayMs: 0 } });
    const token = (await api('POST', '/tickle')).body.session;
    const a = await WsRecorder.open(sim!, token);
    await a.waitFor((f) => f.topic === 'system');
    await hook('POST', '/ws/drop');
    expect(await eventually(async () => a.closed, (closed) => closed)).toBe(true);
    const b = await WsRecorder.open(sim!, token);
    await b.waitFor((f) => f.topic === 'system');
    expect(await eventually(async () => b.closed, (closed) => closed)).toBe(true);
  });
});
