/**
 * `tandem doctor --config` lists the account's foreign positions with the node's own classification:
 * positions are seeded at the simulator by a manual trade (no cOID, so the journal never traded
 * them), a node runs one strategy against the same journal, and the doctor (the real CLI, over HTTPS
 * to the simulator, reading the real SQLite journal) reports exactly what the node reported as
 * foreign, and nothing the strategy holds itself.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { runNode, SIM_CONID, simHook, startHarness, type Harness } from './helpers/engine-harness.ts';
import type { SimPortfolio } from './helpers/processes.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const { ETHA, ETHV, SPY } = SIM_CONID;
type Line = { check: string; status: string; detail: string; fix?: string };

async function doctor(h: Harness, journalFile: string): Promise<Line[]> {
  writeFileSync(join(h.dir, 'pair.yaml'), pairStrategyYaml({ name: 'pair' }));
  const config = join(h.dir, 'engine.yaml');
  writeFileSync(config, `kind: engine
gateway: { url: "${h.sim.url}", timeoutMs: 30000 }
dataDir: ${join(h.dir, 'data')}
journal: { path: ${journalFile} }
strategies: [pair.yaml]
`);
  const env = { ...process.env, IBKR_PAPER_ACCOUNT_ID: h.sim.accounts.paper, DOTENV_CONFIG_QUIET: 'true' };
  // A failing check (none expected here) exits non-zero; the checklist is on stdout either way.
  const r = await promisify(execFile)(process.execPath, tandemArgv(['doctor', '--config', config, '--json']), { encoding: 'utf8', env, cwd: h.dir })
    .catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
  expect(r.stdout, r.stderr).toMatch(/^\[/);
  return JSON.parse(r.stdout) as Line[];
}

describe('tandem doctor: foreign positions', () => {
  it('doctor reports the positions no strategy of the journal traded, as the node does; the strategy\'s own are not foreign', async () => {
    h = await startHarness();
    // Trades entered elsewhere (TWS, mobile): no cOID, never in the journal.
    await simHook(h.sim.url, '/sim/manual-trade', 'POST', { conid: SPY, side: 'BUY', quantity: 10 });
    await simHook(h.sim.url, '/sim/manual-trade', 'POST', { conid: ETHA, side: 'BUY', quantity: 7 });
    const held = async (c: number) => (await simHook<SimPortfolio>(h!.sim.url, '/sim/portfolio')).find((a) => a.id === h!.sim.accounts.paper)?.positions.find((p) => p.conid === c)?.qty ?? 0;
    for (let i = 0; i < 300 && !((await held(SPY)) === 10 && (await held(ETHA)) === 7); i++) await new Promise((r) => setTimeout(r, 100));
    expect([await held(SPY), await held(ETHA)]).toEqual([10, 7]);

    // Before any node ran there is no journal: every position is foreign.
    const before = (await doctor(h, h.journalFile)).find((l) => l.check === 'foreign positions')!;
    expect(before.status).toBe('warn');
    expect(before.detail).toMatch(/no journal yet/);
    expect(before.detail).toMatch(/10 SPY at the broker was not traded by any strategy of this journal/);
    expect(before.detail).toMatch(/7 ETHA at the broker was not traded by any strategy of this journal/);

    // A node trades the ETHA/ETHV pair on the same account and journal, and reports its foreign positions.
    const { node, journal } = h.newNode({ maxBars: 6 });
    const summary = await runNode(h, node, 600);
    const nodeForeign = summary.foreign.map((f) => [f.conid, f.qty]).sort();
    expect(nodeForeign).toEqual([[ETHA, 7], [SPY, 10]].sort());
    const own = new Map(journal.positions('pair').map((p) => [p.conid, p.qty]));

    const lines = await doctor(h, h.journalFile);
    expect(lines.find((l) => l.check === 'accounts')?.status).toBe('ok');
    const line = lines.find((l) => l.check === 'foreign positions')!;
    expect(line.status).toBe('warn');
    expect(line.detail).toContain(`conid ${SPY}`);
    expect(line.detail).toContain(`conid ${ETHA}`);
    expect(line.detail).not.toContain(`conid ${ETHV}`);
    expect(line.detail).toMatch(/10 SPY at the broker was not traded by any strategy of this journal/);
    if (own.get(ETHA)) {
      // ETHA is traded by the strategy: only the difference beyond its book is foreign.
      expect(line.detail).toContain(`the broker holds ${7 + own.get(ETHA)!} ETHA, the strategies' books ${own.get(ETHA)}; the difference (7)`);
    }
    expect(line.fix).toMatch(/never trades, adopts or counts them/);
  }, 300_000);
});
