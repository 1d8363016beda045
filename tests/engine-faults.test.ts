/**
 * Faults: the engine against the simulator with faults switched on (5xx bursts, 429 pacing,
 * placements answered 503 although placed, session drop and re-login, websocket drop, a rejected
 * second leg). After each run the engine's positions, the journal, the strategy state and the
 * simulator's own books agree, and no cOID reached the simulator twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Journal } from '../src/store/journal.ts';
import type { NodeSummary } from '../src/engine/events.ts';
import { runNode, SIM_CONID, simHook, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import type { SimPortfolio } from './helpers/processes.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const { ETHA, ETHV } = SIM_CONID;

async function expectConsistent(harness: Harness, journal: Journal, summary: NodeSummary): Promise<void> {
  const simOrders = await simHook<{ cOID?: string }[]>(harness.sim.url, '/sim/orders');
  const sent = simOrders.map((o) => o.cOID).filter((c): c is string => Boolean(c));
  expect(new Set(sent).size).toBe(sent.length);
  const journalled = new Set(journal.orders().map((o) => o.cOID));
  for (const c of sent) expect(journalled.has(c)).toBe(true);
  expect(journal.openOrders()).toEqual([]);
  const pf = await simHook<SimPortfolio>(harness.sim.url, '/sim/portfolio');
  const held = pf.find((a) => a.id === harness.sim.accounts.paper)!.positions;
  const simQty = (c: number) => held.find((p) => p.conid === c)?.qty ?? 0;
  const jQty = (c: number) => journal.positions().find((p) => p.conid === c)?.qty ?? 0;
  const engineQty = (s: string) => summary.positions.find((p) => p.symbol === s)?.qty ?? 0;
  const state = journal.loadStrategyState('pair')!.state as { position: { qtyY: number; qtyX: number } };
  expect([jQty(ETHA), jQty(ETHV)]).toEqual([simQty(ETHA), simQty(ETHV)]);
  expect([engineQty('ETHA'), engineQty('ETHV')]).toEqual([simQty(ETHA), simQty(ETHV)]);
  expect([state.position.qtyY, state.position.qtyX]).toEqual([simQty(ETHA), simQty(ETHV)]);
}

describe('engine faults', () => {
  it('engine rejected second leg: retried within the bound, then the filled leg is flattened, loudly', async () => {
    h = await startHarness();
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: `reject=${ETHV}:3` });
    const { node, journal } = h.newNode({ maxBars: 30 });
    const summary = await runNode(h, node, 600);
    expect(summary.stopReason).toBe('max-bars');
    const legging = journal.incidents().filter((i) => i.kind === 'legging');
    expect(legging.length).toBe(1);
    const intent = (JSON.parse(legging[0]!.detail!) as { intentId: string }).intentId;
    const orders = journal.orders().filter((o) => o.intentId === intent);
    expect(orders.map((o) => [o.leg, o.state])).toEqual([
      ['y', 'filled'], ['x', 'rejected'], ['x-retry1', 'rejected'], ['x-retry2', 'rejected'], ['y-flatten', 'filled'],
    ]);
    expect(h.events.some((e) => e.type === 'warn' && /legging failure/.test(e.message))).toBe(true);
    await expectConsistent(h, journal, summary);
  }, 240_000);

  it('engine placements answered 503 although placed are resolved by cOID, never re-sent', async () => {
    h = await startHarness();
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'order503=1,order503Delay=1500' });
    const { node, journal } = h.newNode({});
    const running = runNode(h, node, 300);
    // Each placement answers 503 and is found by cOID (live orders are paced at 1 per 5 s): one
    // decision's two orders are enough to show it.
    await waitFor(() => journal.orders().length >= 2 && journal.openOrders().length === 0, 200_000, 'two orders resolved');
    await node.stop('signal');
    const summary = await running;
    const orders = journal.orders();
    expect(orders.length).toBeGreaterThanOrEqual(2);
    expect(orders.every((o) => o.state === 'filled')).toBe(true);
    const log = await simHook<{ path: string; method: string; status: number }[]>(h.sim.url, '/sim/requests');
    expect(log.filter((r) => r.method === 'POST' && r.path.endsWith('/orders') && r.status === 503).length).toBeGreaterThanOrEqual(2);
    await expectConsistent(h, journal, summary);
  }, 300_000);

  it('engine 5xx bursts and 429 pacing: keeps trading and stays consistent', async () => {
    h = await startHarness({ pacing: { enabled: true, globalPerSecond: 4, penaltyAfterViolations: 1000, perEndpoint: false } });
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'error5xx=0.15' });
    // Lost placements are resolved in rounds of 5 s (not 20): the run crosses many of them and must
    // finish inside the trading day on a loaded machine.
    const { node, journal } = h.newNode({ maxBars: 24, resolveTimeoutMs: 5_000 });
    const summary = await runNode(h, node, 400);
    expect(summary.stopReason).toBe('max-bars');
    const log = await simHook<{ status: number }[]>(h.sim.url, '/sim/requests');
    expect(log.some((r) => r.status >= 500)).toBe(true);
    await expectConsistent(h, journal, summary);
    // A bound only: on a loaded machine the faults (lost placements resolved in 5 s rounds, 4
    // requests/s) can put the node hours of simulated time behind the 400× clock, past the 16:00
    // close; it then finishes its bars after the next open (17.5 simulated hours: ~160 s).
  }, 600_000);

  it('engine stop: an order whose lost placement is resolved to working only after the shutdown bound is waited for, not left open', async () => {
    // The race of a 5xx/429 run that stopped at --max-bars with an order open, made deterministic:
    // a placement answered 500 (not placed) leaves the order `unknown`; at the stop, the order
    // manager's resolution (lookups, then the same-cOID resend that places it) is slowed by latency
    // past the 1 s shutdown bound, and ETHV is halted so the order stays working until the test
    // lets it fill. Before the fix the node stopped as soon as the late answer came, leaving the
    // order working at the broker.
    h = await startHarness();
    // No read retries: each one waits out the live-orders pacing (1 per 5 s), and under error500=1
    // the lookups of the lost placement took ~90 s with them; the scenario needs none.
    const { node, journal } = h.newNode({ shutdownTimeoutMs: 1_000, resolveTimeoutMs: 500, client: { retries: 0 } });
    // Speed 1: no bar closes during the test, so no decision places anything but this order.
    const running = runNode(h, node, 1);
    await waitFor(() => h!.events.some((e) => e.type === 'started'), 150_000, 'the node to start');
    await simHook(h.sim.url, '/sim/halt', 'POST', { conid: ETHV, halted: true });
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'error500=1', replace: true });
    const placed = await node.orders.place('pair', 'test-late-ack', 'x', { instrument: node.runner('pair')!.legs.x, side: 'BUY', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    expect(placed.state).toBe('unknown');
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'latency=1500', replace: true });
    const simHas = async (): Promise<boolean> => (await simHook<{ cOID?: string }[]>(h!.sim.url, '/sim/orders')).some((o) => o.cOID === placed.cOID);
    expect(await simHas()).toBe(false);

    let stopped = false;
    const stopping = node.stop('signal').then(() => (stopped = true));
    // The resolution's answers come after the bound; the order is working (held by the halt).
    await waitFor(() => stopped || journal.order(placed.cOID)!.state === 'working', 60_000, 'the order to be resolved to working');
    expect(stopped).toBe(false);
    await waitFor(() => stopped || h!.events.some((e) => e.type === 'warn' && e.message.includes(placed.cOID) && /acknowledged after the shutdown bound/.test(e.message)), 30_000, 'the node to wait for it');
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: '', replace: true });
    await simHook(h.sim.url, '/sim/halt', 'POST', { conid: ETHV, halted: false });
    await stopping;
    const summary = await running;
    expect(summary.stopReason).toBe('signal');
    expect(await simHas()).toBe(true);
    expect(journal.order(placed.cOID)!.state).toBe('filled');
    expect(journal.openOrders()).toEqual([]);
    expect(journal.incidents().some((i) => i.kind === 'orders-open-at-stop')).toBe(false);
  }, 300_000);

  it('engine stop: an order still working when the bound passes is reported loudly (incident and warning), not only logged', async () => {
    h = await startHarness();
    const { node, journal } = h.newNode({ shutdownTimeoutMs: 1_000 });
    const running = runNode(h, node, 1);
    await waitFor(() => h!.events.some((e) => e.type === 'started'), 150_000, 'the node to start');
    await simHook(h.sim.url, '/sim/halt', 'POST', { conid: ETHV, halted: true });
    const placed = await node.orders.place('pair', 'test-held', 'x', { instrument: node.runner('pair')!.legs.x, side: 'BUY', quantity: 10, orderType: 'MKT', tif: 'DAY' });
    expect(placed.state).toBe('working');
    await node.stop('signal');
    await running;
    expect(journal.order(placed.cOID)!.state).toBe('working');
    const open = journal.incidents().filter((i) => i.kind === 'orders-open-at-stop');
    expect(open.length).toBe(1);
    const detail = JSON.parse(open[0]!.detail!) as { reason: string; orders: { cOID: string; state: string }[] };
    expect(detail.reason).toBe('signal');
    expect(detail.orders.map((o) => [o.cOID, o.state])).toEqual([[placed.cOID, 'working']]);
    expect(h.events.some((e) => e.type === 'warn' && e.message.includes('orders still open at stop') && e.message.includes(placed.cOID))).toBe(true);
  }, 300_000);

  it('engine session drop and re-login, and a websocket drop: pauses, re-authenticates, reconciles, trades again', async () => {
    h = await startHarness();
    const { node, journal } = h.newNode({ maxBars: 30 });
    const running = runNode(h, node, 600);
    await waitFor(() => h!.events.filter((e) => e.type === 'bar').length >= 5, 60_000, 'five bars');
    await simHook(h.sim.url, '/sim/session/drop', 'POST', {});
    await waitFor(() => journal.incidents().some((i) => i.kind === 'session-up'), 60_000, 'the session to come back');
    const barsAfterRelogin = h.events.filter((e) => e.type === 'bar').length;
    await simHook(h.sim.url, '/sim/ws/drop', 'POST', {});
    await waitFor(() => journal.incidents().some((i) => i.kind === 'stream-reconnected'), 60_000, 'the stream to reconnect');
    const summary = await running;
    expect(summary.stopReason).toBe('max-bars');
    expect(h.events.filter((e) => e.type === 'bar').length).toBeGreaterThan(barsAfterRelogin);
    const kinds = journal.incidents().map((i) => i.kind);
    expect(kinds).toContain('session-down');
    expect(kinds).toContain('session-up');
    expect(kinds).toContain('stream-reconnected');
    await expectConsistent(h, journal, summary);
  }, 240_000);
});
