/**
 * Reconciliation that doubts (issue 12, item 1): at a restart while a pair is held, the simulator
 * answers the positions read with `[]` (or `{}`). The engine must not believe it: it reads again,
 * looks for missed executions, then halts the strategy, says per contract what differs, sends no
 * order (no re-entry, no flatten claimed) and computes no daily loss from it. A single empty answer
 * (a cold cache) is read again and trading goes on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runNode, simHook, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type SimPortfolio = { id: string; positions: { conid: number; qty: number }[] }[];
const ETHA = 900000001;
const ETHV = 900000002;

async function simHeld(harness: Harness): Promise<[number, number]> {
  const pf = await simHook<SimPortfolio>(harness.sim.url, '/sim/portfolio');
  const held = pf.find((a) => a.id === harness.sim.accounts.paper)!.positions;
  const q = (c: number) => held.find((p) => p.conid === c)?.qty ?? 0;
  return [q(ETHA), q(ETHV)];
}

async function holdAPair(harness: Harness): Promise<[number, number]> {
  const { node, journal } = harness.newNode({});
  const running = runNode(harness, node, 600);
  await waitFor(() => journal.positions().filter((p) => p.qty !== 0).length === 2 && journal.openOrders().length === 0, 120_000, 'a pair held');
  await node.stop('signal');
  await running;
  harness.go(1);
  const held = await simHeld(harness);
  expect(held.every((q) => q !== 0)).toBe(true);
  return held;
}

describe('engine reconciliation that doubts', () => {
  for (const fault of ['positionsEmpty', 'positionsJunk'] as const) {
    it(`engine restart with a pair held and positions answered ${fault === 'positionsEmpty' ? '[]' : '{}'}: no re-entry, no flatten claimed, halted with what differs`, async () => {
      h = await startHarness();
      const held = await holdAPair(h);
      const ordersBefore = (await simHook<unknown[]>(h.sim.url, '/sim/orders')).length;

      await simHook(h.sim.url, '/sim/faults', 'POST', { spec: `${fault}=100000` });
      h.events.length = 0;
      const { node, journal } = h.newNode({ maxBars: 6, flattenOnExit: true, positionReread: { rereadMs: 100 } });
      const incidentsBefore = journal.incidents().length;
      const summary = await runNode(h, node, 600);

      expect((await simHook<unknown[]>(h.sim.url, '/sim/orders')).length).toBe(ordersBefore); // nothing sent
      expect(await simHeld(h)).toEqual(held);
      expect(summary.flatten).not.toBe('done');
      expect(summary.orders).toBe(0);
      expect(node.risk.stateFor('pair')).toBe('halted');
      const incidents = journal.incidents().slice(incidentsBefore);
      expect(incidents.some((i) => i.kind === 'daily-loss')).toBe(false);
      const disputed = incidents.find((i) => i.kind === 'positions-disputed');
      expect(disputed).toBeDefined();
      const detail = JSON.parse(disputed!.detail!) as { disagreements: { conid: number; journalQty: number; brokerQty: number }[] };
      expect(detail.disagreements.map((d) => [d.conid, d.journalQty, d.brokerQty])).toEqual([[ETHA, held[0], 0], [ETHV, held[1], 0]]);
      expect(h.events.some((e) => e.type === 'warn' && /positions disagree with the broker \(ETHA: journal -?\d+(\.\d+)?, broker 0; ETHV/.test(e.message))).toBe(true);
      // The books are the journal's: not replaced by the empty answer.
      expect(summary.positions.map((p) => p.qty).sort()).toEqual([...held].sort());
    }, 300_000);
  }

  it('engine restart with one empty positions answer (a cold cache): read again, no dispute, trading goes on', async () => {
    h = await startHarness();
    await holdAPair(h);
    await simHook(h.sim.url, '/sim/faults', 'POST', { spec: 'positionsEmpty=1' });
    h.events.length = 0;
    const { node, journal } = h.newNode({ maxBars: 2, positionReread: { rereadMs: 100 } });
    const incidentsBefore = journal.incidents().length;
    await runNode(h, node, 600);
    expect(journal.incidents().slice(incidentsBefore).some((i) => i.kind === 'positions-disputed')).toBe(false);
    expect(node.risk.state('pair')).not.toBe('halted');
    const log = await simHook<{ path: string; method: string }[]>(h.sim.url, '/sim/requests');
    expect(log.filter((r) => r.method === 'GET' && /\/portfolio\/[^/]+\/positions\/0$/.test(r.path)).length).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
