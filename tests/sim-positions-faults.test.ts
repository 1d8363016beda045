/**
 * Simulator fault: positions answers that lie. `positionsEmpty=N` answers `[]` and `positionsJunk=N`
 * answers `{}` for the next N reads of the paged positions although positions are held (the engine's
 * reconciliation must doubt such answers; see docs/engine.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { applyFill } from '../src/gateway-sim/portfolio.ts';
import { clientFor } from './support/sim-http.ts';

let sim: RunningSimulator | undefined;
afterEach(async () => { await sim?.close(); sim = undefined; });

describe('sim positions faults', () => {
  it('positionsEmpty and positionsJunk answer [] and {} for the next reads, then the truth again', async () => {
    sim = await startSimulator({ seed: 5, startTime: '2026-03-10T15:00:00Z', authenticated: true, profile: 'ideal' });
    const { api, hook } = clientFor(sim);
    const acct = sim.accounts.paper;
    applyFill(sim.core.accounts.get(acct)!, 900000001, 10, 30, 1);
    await api('GET', '/portfolio/accounts');
    const read = async () => (await api('GET', `/portfolio/${acct}/positions/0`)).body as unknown;
    expect(await read()).toHaveLength(1);
    expect((await hook('POST', '/faults', { spec: 'positionsEmpty=2,positionsJunk=1' })).status).toBe(200);
    expect(await read()).toEqual([]);
    expect(await read()).toEqual([]);
    expect(await read()).toEqual({});
    const after = (await read()) as { conid: number; position: number }[];
    expect(after.map((p) => [p.conid, p.position])).toEqual([[900000001, 10]]);
  });
});
