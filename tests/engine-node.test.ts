/**
 * One trading node, many strategies, against the simulator over real HTTPS/WSS with a real journal:
 * an ETF pair and a crypto pair in one node share one session, one pacing budget and one websocket,
 * and each strategy's fills, positions and equity stay its own. A position at the broker that no
 * strategy traded is reported, never adopted, and never counted in a strategy's equity. Flatten on
 * exit outside market hours is refused and leaves the positions.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IbkrClient } from '../src/ibkr/client.ts';
import type { Journal } from '../src/store/journal.ts';
import { cryptoParams, pairParams, runNode, SIM_CONID, simHook, spec, startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import type { SimPortfolio } from './helpers/processes.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const { ETHA, ETHV, BTC, ETH, SPY } = SIM_CONID;

/** Cash and positions of one strategy recomputed from its own journalled fills. */
function bookFromFills(journal: Journal, strategyId: string, startCash: number): { cash: number; qty: Map<number, number> } {
  let cash = startCash;
  const qty = new Map<number, number>();
  for (const f of journal.fills(strategyId)) {
    const s = f.side === 'BUY' ? f.qty : -f.qty;
    cash -= s * f.price + f.commission;
    qty.set(f.conid, Math.round(((qty.get(f.conid) ?? 0) + s) * 1e8) / 1e8);
  }
  return { cash, qty };
}

describe('trading node', () => {
  it('node with two strategies (ETF pair + crypto pair): both trade through one session, one websocket and one pacing budget; fills, positions and equity stay per strategy', async () => {
    h = await startHarness();
    const { node, journal, client } = h.newNode({
      strategies: [spec('etf', pairParams(), 0.5), spec('crypto', cryptoParams(), 0.5)],
    });
    let opens = 0;
    client.stream.on('open', () => opens++);
    const running = runNode(h, node, 600);
    await waitFor(() => journal.fills('etf').length >= 2 && journal.fills('crypto').length >= 1, 180_000, 'fills of both strategies');
    await node.stop('signal');
    const summary = await running;

    // Fills attributed to the strategy whose contracts they are.
    for (const f of journal.fills('etf')) expect([ETHA, ETHV]).toContain(f.conid);
    for (const f of journal.fills('crypto')) expect([BTC, ETH]).toContain(f.conid);
    expect(journal.fills('').length).toBe(0);
    for (const o of journal.orders()) expect(['etf', 'crypto']).toContain(o.strategyId);

    // Each strategy's book is its share of startingCash moved by its own fills only.
    for (const id of ['etf', 'crypto']) {
      const s = summary.strategies.find((x) => x.strategyId === id)!;
      const b = bookFromFills(journal, id, 50_000);
      expect(s.startEquity).toBe(50_000);
      expect(s.cash).toBeCloseTo(b.cash, 6);
      const held = new Map(journal.positions(id).map((p) => [p.conid, p.qty]));
      for (const [conid, q] of b.qty) expect(held.get(conid) ?? 0).toBe(q);
    }
    // The broker's net position per contract is the sum of the books.
    const pf = await simHook<SimPortfolio>(h.sim.url, '/sim/portfolio');
    const simHeld = pf.find((a) => a.id === h!.sim.accounts.paper)!.positions;
    for (const c of [ETHA, ETHV, BTC, ETH]) {
      const sim = simHeld.find((p) => p.conid === c)?.qty ?? 0;
      const books = journal.positions().filter((p) => p.conid === c).reduce((s, p) => s + p.qty, 0);
      expect(Math.round(books * 1e8) / 1e8).toBe(Math.round(sim * 1e8) / 1e8);
    }
    expect(summary.foreign).toEqual([]);

    // One websocket; never more than 10 requests in any second at the simulator.
    expect(opens).toBe(1);
    const log = await simHook<{ at: number }[]>(h.sim.url, '/sim/requests');
    const perSecond = new Map<number, number>();
    for (const r of log) perSecond.set(Math.floor(r.at / 1000), (perSecond.get(Math.floor(r.at / 1000)) ?? 0) + 1);
    expect(log.length).toBeGreaterThan(20);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(10);
    // No cOID twice.
    const simOrders = await simHook<{ cOID?: string }[]>(h.sim.url, '/sim/orders');
    const sent = simOrders.map((o) => o.cOID).filter(Boolean);
    expect(new Set(sent).size).toBe(sent.length);
  }, 300_000);

  it('node refuses two strategies trading the same contract unless both allow it', async () => {
    h = await startHarness();
    const a = h.newNode({ strategies: [spec('one', pairParams(), 0.5), spec('two', pairParams(), 0.5)] });
    await expect(a.node.run()).rejects.toThrow(/both trade ETHA .*allowSharedContracts/);
    const simOrders = await simHook<unknown[]>(h.sim.url, '/sim/orders');
    expect(simOrders).toEqual([]);
  }, 60_000);

  it('node foreign position: reported at start, not adopted, equity unaffected', async () => {
    h = await startHarness();
    // Another program (here: a plain client) holds SPY and some ETHA in the same account.
    const other = new IbkrClient({ baseUrl: h.sim.url, retryBaseMs: 50 });
    for (const [conid, qty] of [[SPY, 10], [ETHA, 7]] as const) {
      await other.orders.place({ accountId: h.sim.accounts.paper, conid, side: 'BUY', type: 'MKT', quantity: qty, tif: 'DAY', secType: 'STK' });
    }
    let pf: SimPortfolio = [];
    const held = (c: number) => pf.find((a) => a.id === h!.sim.accounts.paper)?.positions.find((p) => p.conid === c)?.qty ?? 0;
    for (const end = Date.now() + 60_000; Date.now() < end && !(held(SPY) === 10 && held(ETHA) === 7);) {
      pf = await simHook<SimPortfolio>(h.sim.url, '/sim/portfolio');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([held(SPY), held(ETHA)]).toEqual([10, 7]);
    await other.close();

    const { node, journal } = h.newNode({ maxBars: 6 });
    const summary = await runNode(h, node, 600);
    const foreign = journal.incidents().filter((i) => i.kind === 'foreign-positions');
    expect(foreign.length).toBeGreaterThanOrEqual(1);
    const first = JSON.parse(foreign[0]!.detail!) as { when: string; positions: { conid: number; qty: number }[] };
    expect(first.when).toBe('start');
    expect(first.positions.map((p) => [p.conid, p.qty]).sort()).toEqual([[ETHA, 7], [SPY, 10]].sort());
    expect(h.events.some((e) => e.type === 'warn' && /foreign positions at the broker \(not adopted\)/.test(e.message))).toBe(true);
    // Not adopted: the strategy started flat with exactly its capital.
    expect(summary.strategies[0]!.startEquity).toBe(100_000);
    expect(journal.incidents().some((i) => i.kind === 'position-adopted')).toBe(false);
    const b = bookFromFills(journal, 'pair', 100_000);
    expect(summary.strategies[0]!.cash).toBeCloseTo(b.cash, 6);
    for (const p of journal.positions('pair')) expect(p.qty).toBe(b.qty.get(p.conid));
    // The broker still holds the foreign units on top of the strategy's own.
    pf = await simHook<SimPortfolio>(h.sim.url, '/sim/portfolio');
    expect(held(SPY)).toBe(10);
    expect(held(ETHA)).toBe(7 + (b.qty.get(ETHA) ?? 0));
    expect(summary.foreign.map((f) => [f.conid, f.qty]).sort()).toEqual([[ETHA, 7], [SPY, 10]].sort());
  }, 240_000);

  it('node flatten on exit outside market hours: refused with a clear message, positions left', async () => {
    h = await startHarness();
    const { node, journal } = h.newNode({ flattenOnExit: true });
    const running = runNode(h, node, 600);
    await waitFor(() => journal.fills().length >= 2 && journal.openOrders().length === 0, 90_000, 'a position');
    await simHook(h.sim.url, '/sim/clock', 'POST', { speed: 1, set: Date.UTC(2026, 2, 3, 22, 0) }); // 17:00 New York
    await node.stop('signal');
    const summary = await running;
    expect(summary.flatten).toBe('market-closed');
    expect(h.events.some((e) => e.type === 'warn' && /flatten on exit refused: market closed/.test(e.message))).toBe(true);
    expect(journal.incidents().some((i) => i.kind === 'flatten-refused')).toBe(true);
    expect(summary.positions.length).toBeGreaterThan(0);
    const pf = await simHook<SimPortfolio>(h.sim.url, '/sim/portfolio');
    const simHeld = pf.find((a) => a.id === h!.sim.accounts.paper)!.positions.filter((p) => p.qty !== 0);
    expect(simHeld.length).toBeGreaterThan(0);
  }, 240_000);
});
