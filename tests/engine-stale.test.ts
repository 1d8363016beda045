/**
 * Stale decisions (issue 12, item 6): the engine is stalled by an order placement that gets no
 * answer for longer than the client timeout (the simulator places it, then answers 503 much later),
 * while the simulated clock runs on and bars queue up behind the stall. After it, no order may go out
 * on a decision whose bar is older than risk.maxBarAgeBars (1 bar): such decisions are skipped and
 * journalled as refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HARNESS_RISK, runNode, simHook, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type SimOrder = { cOID?: string; createdAt: number };
const BAR_MS = 5 * 60_000;

describe('engine stale decisions', () => {
  it('engine stalled longer than the client timeout: no order from a bar older than one bar, the stale decisions are skipped', async () => {
    h = await startHarness();
    // Every placement stalls: answered (503) only after 60 s although placed; the client gives up after 10 s.
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'order503=1,order503Delay=60000' });
    const { node, journal } = h.newNode({ clientTimeoutMs: 10_000, resolveTimeoutMs: 30_000, risk: { ...HARNESS_RISK, maxBarAgeBars: 1 } });
    const running = runNode(h, node, 600);
    // Fast to the first decision, then 120x (a bar is 2.5 s): a 10 s stall queues 4 bars, and the
    // slack below (one bar) is 2.5 s of real delay between the engine's check and the simulator.
    await waitFor(() => journal.orders().length >= 1, 200_000, 'the first decision');
    h.go(120);
    const slowSince = Date.now();
    await waitFor(() => journal.decisions().some((d) => d.action === 'refused' && /stale decision/.test(JSON.stringify(d.detail))), 200_000, 'a stale decision skipped');
    // The stall ends: the next decision trades, on a fresh bar.
    await simHook(h.sim.url, '/sim/faults', 'DELETE');
    const calm = Date.now();
    await waitFor(() => journal.orders().some((o) => o.createdAt > calm && /^(enter|close)-/.test(o.intentId)), 200_000, 'a decision after the stall');
    await node.stop('signal');
    await running;

    // Every order went out on a bar that was fresh when the engine decided: its decision bar ended at
    // most one bar (plus one bar of slack for the request on an accelerated clock) before it reached the simulator.
    const simOrders = await simHook<SimOrder[]>(h.sim.url, '/sim/orders');
    const at = new Map(simOrders.map((o) => [o.cOID, o.createdAt]));
    const seen = new Set<string>();
    let checked = 0;
    for (const o of journal.orders()) {
      const m = /^(?:enter|close)-(\d+)$/.exec(o.intentId);
      // The first order of each decision (the next legs wait behind its stall, as they should: the pair is completed).
      if (!m || seen.has(o.intentId)) continue;
      seen.add(o.intentId);
      if (!at.has(o.cOID) || o.createdAt < slowSince) continue;
      checked++;
      const barEnd = Number(m[1]) + BAR_MS;
      expect(at.get(o.cOID)! - barEnd, `${o.cOID} on bar ${new Date(Number(m[1])).toISOString()}`).toBeLessThanOrEqual(2 * BAR_MS);
    }
    expect(checked).toBeGreaterThanOrEqual(1);
    // Each skipped decision's row names its rule beside the reason (a backtest counts refusals by rule).
    const staleRows = journal.decisions().filter((d) => d.action === 'refused' && /stale decision/.test(d.detail ?? ''));
    expect(staleRows.length).toBeGreaterThanOrEqual(1);
    for (const d of staleRows) expect(JSON.parse(d.detail!)).toEqual({ reason: expect.stringMatching(/stale decision/), rule: 'stale-bar' });
    // The strategy is synced back after each refused decision, quietly: the refusal row is the record,
    // not an incident as well.
    expect(journal.incidents().filter((i) => i.kind === 'strategy-sync' && (i.detail ?? '').includes('refused decision'))).toEqual([]);
  }, 300_000);
});
