/**
 * Simulator conformance: the websocket (§8) — session by cookie or first frame, greeting, heartbeat,
 * tic, ech+hb, smd deltas and expiry, sor, str, spl, sld, sts on session changes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type SimOptions } from '../src/gateway-sim/index.ts';
import { clientFor, eventually, sleep, WsRecorder } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
const sockets: WsRecorder[] = [];
async function start(o: SimOptions = {}) {
  sim = await startSimulator({ seed: 9, startTime: '2026-03-10T15:00:00Z', authenticated: true, pacing: false, ...o });
  const c = clientFor(sim);
  await c.api('GET', '/iserver/accounts');
  const token: string = (await c.api('POST', '/tickle')).body.session;
  return { sim, token, ...c };
}
async function open(token?: string) {
  const w = await WsRecorder.open(sim!, token);
  sockets.push(w);
  // Realistic: commands sent before the greeting are dropped (wsGreetingDelayMs); a client waits for sts.
  if (token) await w.waitFor((f) => f.topic === 'sts' || f.error !== undefined).catch(() => undefined);
  return w;
}
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await sim?.close();
  sim = undefined;
});

describe('sim websocket', () => {
  it('greets after a cookie api=<session>: system, act, sts', async () => {
    const { token } = await start();
    const w = await open(token);
    expect(await w.waitFor((f) => f.topic === 'system')).toEqual({ topic: 'system', success: 'demo', isFT: false, isPaper: true });
    const act = await w.waitFor((f) => f.topic === 'act');
    expect(act.args).toMatchObject({ accounts: ['DU1234567'], selectedAccount: 'DU1234567', isPaper: true });
    expect(await w.waitFor((f) => f.topic === 'sts')).toEqual({ topic: 'sts', args: { authenticated: true } });
  });

  it('accepts the JSON cookie form and a first {"session":...} frame; waits without either', async () => {
    const { token } = await start();
    const j = await open(encodeURIComponent(JSON.stringify({ session: token })));
    await j.waitFor((f) => f.topic === 'system');
    const w = await open();
    expect(await w.waitFor((f) => f.message === 'waiting for session')).toBeTruthy();
    w.send('tic');
    await w.waitFor((f) => f.code === 1);
    w.send(JSON.stringify({ session: token }));
    await w.waitFor((f) => f.topic === 'system');
  });

  it('refuses the upgrade without an SSO session (401)', async () => {
    sim = await startSimulator({ seed: 9 });
    await expect(WsRecorder.open(sim)).rejects.toThrow(/401/);
  });

  it('heartbeats, tic (4 frames) and ech+hb (raw echo)', async () => {
    const { token } = await start({ wsHeartbeatMs: 200 });
    const w = await open(token);
    const hb = await w.waitFor((f) => f.topic === 'system' && typeof f.hb === 'number');
    expect(hb.hb).toBeGreaterThan(0);
    w.send('tic');
    await w.waitFor((f) => f.topic === 'tic' && f.hmds);
    const tics = w.frames.filter((f) => f.topic === 'tic');
    expect(tics).toHaveLength(4);
    expect(tics[0]).toMatchObject({ alive: true, id: token });
    expect(tics[1].iserver.authStatus).toMatchObject({ authenticated: true, competing: false, connected: true });
    w.send('ech+hb');
    expect(await w.waitFor((f) => f === 'ech+hb')).toBe('ech+hb');
    w.send('xyz+{}');
    expect(await w.waitFor((f) => f.code === 1 && /unknown/i.test(f.error))).toBeTruthy();
  });

  it('smd: a full first frame, then only changed fields; subscriptions expire', async () => {
    const { token, hook } = await start({ speed: 20, wsHeartbeatMs: 250, realism: { smdExpiryMs: 1_500 } });
    const w = await open(token);
    await w.waitFor((f) => f.topic === 'sts');
    w.send('smd+479624278+{"fields":["31","84","86","85","88","6509"]}');
    const first = await w.waitFor((f) => f.topic === 'smd+479624278');
    expect(first).toMatchObject({ conid: 479624278, conidEx: '479624278', '6509': 'RpB' });
    expect(first['31']).toMatch(/^\d+\.\d{2}$/);
    expect(first['84']).toBeDefined();
    const delta = await w.waitFor((f) => f.topic === 'smd+479624278' && f !== first);
    expect(delta.conid).toBe(479624278);
    expect(delta['6509']).toBeUndefined(); // unchanged fields are not repeated
    // The streamed last price equals the model's quote at the frame's _updated time.
    const q = (await hook('GET', `/quote?conid=479624278&t=${delta._updated}`)).body;
    if (delta['31']) expect(Number(delta['31'])).toBe(q.last);
    // Expired 1.5 s after the subscription (wall clock: a lower bound, which a busy machine only
    // lengthens); the frames sent before it have all arrived after a round trip.
    await sleep(1_600);
    await w.roundTrip();
    const n = w.frames.filter((f) => f.topic === 'smd+479624278').length;
    // The simulator pushes on its pump, the heartbeat first: three more heartbeats are at least two
    // whole pumps, each of which would have pushed this quote (it changes every 100 ms at speed 20).
    await w.waitForMore((f) => f.topic === 'system' && typeof f.hb === 'number', 3);
    expect(w.frames.filter((f) => f.topic === 'smd+479624278').length).toBe(n); // expired: silent
  });

  it('sor lists orders then sends deltas; str streams executions; spl streams P&L', async () => {
    const { token, api } = await start({ profile: 'ideal', pacing: false });
    const w = await open(token);
    await w.waitFor((f) => f.topic === 'sts');
    w.send('sor+{}');
    w.send('str+{"realtimeUpdatesOnly":false,"days":1}');
    w.send('spl+{}');
    expect(await w.waitFor((f) => f.topic === 'sor')).toEqual({ topic: 'sor', args: [] });
    const spl = await w.waitFor((f) => f.topic === 'spl');
    expect(spl.args['DU1234567.Core']).toMatchObject({ rowType: 1 });
    expect(spl.args['DU1234567.Core'].uel).toBeTypeOf('number');
    const r = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 5, cOID: 'ws-1' }] } });
    const id = Number(r.body[0].order_id);
    expect(r.body[0].order_status).toBe('PreSubmitted');
    // The placement answer comes before the order's fill is streamed.
    expect(w.frames.some((f) => f.topic === 'str')).toBe(false);
    expect(w.frames.some((f) => f.topic === 'sor' && f.args?.some((x: { orderId: number }) => x.orderId === id))).toBe(false);
    const full = await w.waitFor((f) => f.topic === 'sor' && f.args?.[0]?.orderId === id && f.args[0].conid === 265598);
    expect(full.args[0]).toMatchObject({ acct: 'DU1234567', order_ref: 'ws-1', side: 'BUY', ticker: 'AAPL' });
    const filled = await w.waitFor((f) => f.topic === 'sor' && f.args?.[0]?.orderId === id && f.args[0].status === 'Filled');
    expect(filled.args[0].conid).toBeUndefined(); // a delta
    expect(filled.args[0].filledQuantity).toBe(5);
    const tr = await w.waitFor((f) => f.topic === 'str');
    expect(tr.args[0]).toMatchObject({ symbol: 'AAPL', side: 'B', size: '5', order_ref: 'ws-1', conid: 265598, order_id: id });
    // A new socket with str replays today's executions.
    const w2 = await open(token);
    w2.send('str+{"days":1}');
    const replay = await w2.waitFor((f) => f.topic === 'str');
    expect(replay.args[0].execution_id).toBe(tr.args[0].execution_id);
  });

  it('umd stops the stream of a conid', async () => {
    const { token } = await start({ speed: 20, wsHeartbeatMs: 250 });
    const w = await open(token);
    w.send('smd+495759171+{"fields":["31","84","86"]}');
    await w.waitFor((f) => f.topic === 'smd+495759171');
    w.send('umd+495759171+{}');
    await w.roundTrip(); // the simulator has handled umd; what it sent before has arrived
    const n = w.frames.filter((f) => f.topic === 'smd+495759171').length;
    // Three more heartbeats: at least two whole pumps, each of which would have pushed this quote.
    await w.waitForMore((f) => f.topic === 'system' && typeof f.hb === 'number', 3);
    expect(w.frames.filter((f) => f.topic === 'smd+495759171').length).toBe(n);
  });

  it('ssd and sld answer with the account summary and ledger', async () => {
    const { token } = await start();
    const w = await open(token);
    w.send('ssd+DU1234567+{"keys":["NetLiquidation"]}');
    const ssd = await w.waitFor((f) => f.topic === 'ssd+DU1234567');
    expect(ssd.result.find((x: { key: string }) => x.key === 'NetLiquidation')).toMatchObject({ currency: 'USD', monetaryValue: 1_000_000 });
    w.send('sld+DU1234567+{}');
    const sld = await w.waitFor((f) => f.topic === 'sld+DU1234567');
    expect(sld.result[0]).toMatchObject({ key: 'LedgerListUSD', cashbalance: 1_000_000 });
    w.send('uld+DU1234567+{}');
    expect(await w.waitFor((f) => f.result === 'unsubscribed from ledger')).toBeTruthy();
  });

  it('sends sts on a competing login and sts + close on the nightly reset', async () => {
    const { token, hook } = await start();
    const w = await open(token);
    await w.waitFor((f) => f.topic === 'sts');
    await hook('POST', '/session/competing');
    const sts = await w.waitFor((f) => f.topic === 'sts' && f.args.competing === true);
    expect(sts.args.authenticated).toBe(false);
    await hook('POST', '/session/reset', {});
    expect(await eventually(async () => w.closed, (closed) => closed)).toBe(true);
  });

  it('a filtered live-orders read pauses sor until force=true (realistic); bulletins arrive as blt', async () => {
    const { token, api, hook } = await start({ wsHeartbeatMs: 250, realism: { questions: false, liveOrdersPreflight: false } });
    const w = await open(token);
    w.send('sor+{}');
    await w.waitFor((f) => f.topic === 'sor');
    await api('GET', '/iserver/account/orders?filters=filled');
    const r = await api('POST', '/iserver/account/DU1234567/orders', { body: { orders: [{ conid: 265598, orderType: 'MKT', side: 'BUY', tif: 'DAY', quantity: 1 }] } });
    const id = Number(r.body[0].order_id);
    // Three more heartbeats: at least two whole pumps of the simulator, which would have pushed the order.
    await w.waitForMore((f) => f.topic === 'system' && typeof f.hb === 'number', 3);
    expect(w.frames.filter((f) => f.topic === 'sor' && f.args?.some((x: { orderId: number }) => x.orderId === id))).toHaveLength(0);
    await api('GET', '/iserver/account/orders?force=true');
    await api('DELETE', `/iserver/account/DU1234567/order/${id}`); // any later change is pushed again
    await hook('POST', '/ws/bulletin', { message: 'Exchange halted' });
    expect((await w.waitFor((f) => f.topic === 'blt')).args.message).toBe('Exchange halted');
    await hook('POST', '/session/reset', {});
    await api('POST', '/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    await sleep(1_600);
    await api('GET', '/iserver/accounts');
    // After the reset the finished order of the previous day is no longer listed.
    expect((await api('GET', '/iserver/account/orders')).body).toEqual({ snapshot: true });
  });

  it('binary frames when asked', async () => {
    const { token } = await start({ realism: { wsBinaryFrames: true } });
    const w = await open(token);
    let binary = false;
    w.ws.on('message', (_d, isBinary) => { if (isBinary) binary = true; });
    w.send('tic');
    await w.waitFor((f) => f.topic === 'tic'); // (resolved after every listener of that frame ran)
    expect(binary).toBe(true);
  });
});
