/**
 * A crypto pair (ETH/BTC, long-only) trading through a simulated night, with the gateway behaving
 * as real ones do after hours: live orders come back empty (Voyz/ibind #43), `force=true` answers
 * `{}` (ibind #90), executions carry no `order_id` (only `order_ref` + `execution_id`, `str` rows
 * name the contract by `conidex`), `sor` rows lack `totalSize` and partial-fill `avgPrice`, and some
 * placements are answered 503 although they went through. Afterwards, from the simulator's own
 * books: no cOID was sent twice, every execution of our orders is journalled under the right cOID
 * (none lost, none misattributed), and the journal's positions agree with /sim/portfolio.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pairParams, runNode, simHook, startHarness, type Harness } from './helpers/engine-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Tuesday 3 March 2026, 22:00 New York (03:00 UTC Wednesday): US stocks closed, crypto trading. */
const NIGHT = Date.UTC(2026, 2, 4, 3, 0);
const ETH = 495759171;
const BTC = 479624278;

type SimOrder = { orderId: number; cOID?: string; conid: number; status: string; filledQty: number };
type SimExecution = { executionId: string; orderId: number; conid: number; size: number };
type SimPortfolio = { id: string; positions: { conid: number; qty: number }[] }[];

describe('engine at night', () => {
  it('engine crypto pair through a night of empty live orders and executions without order_id: no duplicate cOID, no lost or misattributed fill, journal = simulator', async () => {
    h = await startHarness({
      startTime: NIGHT, seed: 5,
      realism: {
        liveOrdersEmptyOutsideRth: true, liveOrdersForceEmptyObject: true, executionOrderId: false,
        executionConidVariants: true, sorSparse: true,
      },
    });
    // Placements answered 503 after the order was created (outcome unknown; the client then looks the
    // cOID up in the live orders, which the night hides). The first one for sure, then every third:
    // a busy machine makes the node place fewer orders, and a seeded share alone could miss them all.
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'order503=1,order503Delay=800' });
    const params = pairParams({
      legs: { y: { symbol: 'ETH', secType: 'CRYPTO', exchange: 'PAXOS' }, x: { symbol: 'BTC', secType: 'CRYPTO', exchange: 'PAXOS' } },
      shortMode: 'long-only', entryZ: 0.6, exitZ: 0.1, sizing: { capitalFraction: 0.3 },
    });
    const { node, journal } = h.newNode({ params, maxBars: 40 });
    const running = runNode(h, node, 600);
    running.catch(() => undefined);
    // Until the simulator has counted the first empty live-orders read (the first placement's lookup).
    for (const end = Date.now() + 300_000; ; ) {
      if ((await simHook<{ emptyLiveOrderReads: number }>(h.sim.url, '/sim/state')).emptyLiveOrderReads > 0) break;
      if (Date.now() > end) throw new Error('timed out waiting for the first placement answered 503 to meet the empty live orders');
      await new Promise((r) => setTimeout(r, 100));
    }
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'order503=0.34,order503Delay=800' });
    const summary = await running;
    expect(summary.stopReason).toBe('max-bars');

    const state = await simHook<{ emptyLiveOrderReads: number }>(h.sim.url, '/sim/state');
    expect(state.emptyLiveOrderReads).toBeGreaterThan(0); // the night really hid the orders

    const simOrders = await simHook<SimOrder[]>(h.sim.url, '/sim/orders');
    const sent = simOrders.map((o) => o.cOID).filter((c): c is string => Boolean(c));
    expect(sent.length).toBeGreaterThan(0); // it traded
    expect(new Set(sent).size).toBe(sent.length); // zero duplicate cOIDs
    const journalled = new Set(journal.orders().map((o) => o.cOID));
    for (const c of sent) expect(journalled.has(c)).toBe(true);

    // Every execution of our orders is in the journal, under the cOID of the order that made it.
    const cOIDof = new Map(simOrders.map((o) => [o.orderId, o.cOID]));
    const execs = await simHook<SimExecution[]>(h.sim.url, '/sim/executions');
    const fills = new Map(journal.fills().map((f) => [f.execId, f]));
    for (const e of execs) {
      const f = fills.get(e.executionId);
      expect(f, `execution ${e.executionId} of order ${e.orderId} was not journalled`).toBeDefined();
      expect(f!.cOID).toBe(cOIDof.get(e.orderId));
      expect(f!.conid).toBe(e.conid);
      expect(f!.qty).toBeCloseTo(e.size, 8);
    }
    expect(fills.size).toBe(execs.length);
    expect(journal.openOrders()).toEqual([]);

    const pf = await simHook<SimPortfolio>(h.sim.url, '/sim/portfolio');
    const held = pf.find((a) => a.id === h!.sim.accounts.paper)!.positions;
    const simQty = (c: number) => held.find((p) => p.conid === c)?.qty ?? 0;
    const jQty = (c: number) => journal.positions().find((p) => p.conid === c)?.qty ?? 0;
    expect(jQty(ETH)).toBeCloseTo(simQty(ETH), 8);
    expect(jQty(BTC)).toBeCloseTo(simQty(BTC), 8);
  }, 400_000);
});
