/**
 * Naked leg after a crash (issue 12, item 2): the engine (a real `tandem run` child) is frozen between
 * the two legs of its first pair and SIGKILLed there, so the simulator holds one leg. The restart must
 * treat the lone leg as a legging failure at once and loudly: flatten it (default) or complete the pair
 * as it was intended (`execution.nakedLeg: complete`).
 *  - flatten: frozen right after SENDING the first leg (the second was never journalled);
 *  - complete: frozen right after JOURNALLING the second leg, which the restart's reconciliation sends
 *    once more under the same cOID to prove it absent (issue 11) and the simulator rejects: the journal
 *    says what was intended, the engine completes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_OPEN, simHook } from './helpers/engine-harness.ts';
import { startTandem, type Child } from './helpers/processes.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';

const children: Child[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type SimOrder = { cOID?: string; conid: number; status: string; filledQty: number };
type SimPortfolio = { id: string; positions: { conid: number; qty: number }[] }[];
type OrderRow = { coid: string; intent_id: string; leg: string; conid: number; side: string; quantity: number; state: string; filled_qty: number };
const ETHA = 900000001;
const ETHV = 900000002;

async function crashBetweenLegs(action: 'flatten' | 'complete', point: 'after-send' | 'after-journal', order: number, restartFault?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-naked-'));
  dirs.push(dir);
  const sim = startTandem(['sim', '--port', '0', '--json', '--authenticated', '--profile', 'ideal', '--seed', '7', '--start-time', new Date(DAY_OPEN).toISOString()]);
  children.push(sim);
  const info = JSON.parse(await sim.waitLine(/^\{"url"/, 30_000)) as { url: string; accounts: { paper: string } };
  writeFileSync(join(dir, 'strategy.yaml'), pairStrategyYaml({ name: 'naked' }));
  const config = join(dir, 'engine.yaml');
  writeFileSync(config, `kind: engine
gateway: { url: "${info.url}", timeoutMs: 60000 }
mode: paper
dataDir: ${join(dir, 'data')}
logging: { level: INFO }
execution: { nakedLeg: ${action}, nakedLegTimeoutSeconds: 60 }
strategies: [strategy.yaml]
`);
  const env = { IBKR_PAPER_ACCOUNT_ID: info.accounts.paper };

  const first = startTandem(['run', '--config', config], { ...env, TANDEM_TEST_PAUSE_AT: point, TANDEM_TEST_PAUSE_ORDER: String(order) });
  children.push(first);
  await first.waitLine(/engine running/, 90_000);
  await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
  const paused = await first.waitLine(/^TANDEM-PAUSED /, 90_000);
  await simHook(info.url, '/sim/clock', 'POST', { speed: 1 });
  const crashedCoid = paused.split(' ')[2]!;
  first.proc.kill('SIGKILL');
  await first.exited;
  // The first leg was sent and fills at the simulator; the second was never sent.
  let simOrders: SimOrder[] = [];
  const end = Date.now() + 60_000;
  while (!(simOrders.length === 1 && simOrders[0]!.filledQty > 0)) {
    if (Date.now() > end) throw new Error(`the first leg did not fill: ${JSON.stringify(simOrders)}`);
    simOrders = await simHook<SimOrder[]>(info.url, '/sim/orders');
    await new Promise((r) => setTimeout(r, 50));
  }
  if (point === 'after-journal') expect(simOrders.map((o) => o.cOID)).not.toContain(crashedCoid);
  if (restartFault) await simHook(info.url, '/sim/faults', 'POST', { spec: restartFault });

  const second = startTandem(['run', '--config', config, '--max-bars', '2'], env);
  children.push(second);
  await second.waitLine(/NAKED LEG/, 90_000);
  await second.waitLine(/naked leg resolved/, 90_000);
  await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
  const code = await second.exited;
  expect(code, second.lines.slice(-20).join('\n')).toBe(0);

  const db = new DatabaseSync(join(dir, 'data', 'journal.sqlite'), { readOnly: true });
  const orders = db.prepare('SELECT coid, intent_id, leg, conid, side, quantity, state, filled_qty FROM orders ORDER BY created_at, coid').all() as OrderRow[];
  const incidents = (db.prepare('SELECT kind FROM incidents').all() as { kind: string }[]).map((r) => r.kind);
  const positions = db.prepare('SELECT conid, qty FROM positions').all() as { conid: number; qty: number }[];
  db.close();
  const pf = await simHook<SimPortfolio>(info.url, '/sim/portfolio');
  const held = pf.find((a) => a.id === info.accounts.paper)!.positions;
  const simQty = (c: number) => held.find((p) => p.conid === c)?.qty ?? 0;
  const jQty = (c: number) => positions.find((p) => p.conid === c)?.qty ?? 0;
  expect([jQty(ETHA), jQty(ETHV)]).toEqual([simQty(ETHA), simQty(ETHV)]);
  const sent = (await simHook<SimOrder[]>(info.url, '/sim/orders')).map((o) => o.cOID);
  expect(new Set(sent).size).toBe(sent.length);
  expect(incidents).toContain('naked-leg');
  expect(incidents).toContain('naked-leg-resolved');
  const errorLine = second.lines.find((l) => /NAKED LEG:/.test(l))!;
  expect(errorLine).toMatch(/"level":"?(50|error|ERROR)/i);
  sim.proc.kill('SIGTERM');
  return { orders, crashedCoid, second };
}

describe('engine naked leg after a crash between the legs', () => {
  it('engine naked leg at restart is flattened (default), loudly', async () => {
    const { orders, crashedCoid, second } = await crashBetweenLegs('flatten', 'after-send', 1);
    const firstLeg = orders.find((o) => o.coid === crashedCoid)!;
    expect(firstLeg.state).toBe('filled');
    expect(orders.filter((o) => o.intent_id === firstLeg.intent_id).length).toBe(1); // the second leg was never journalled
    const flatten = orders.find((o) => o.intent_id.startsWith('flatten-naked-leg'))!;
    expect(flatten).toBeDefined();
    expect([flatten.conid, flatten.state, flatten.filled_qty, flatten.side]).toEqual([firstLeg.conid, 'filled', firstLeg.filled_qty, firstLeg.side === 'BUY' ? 'SELL' : 'BUY']);
    expect(second.lines.find((l) => /naked leg resolved/.test(l))).toMatch(/"positions":\[\]/);
  }, 300_000);

  it('engine naked leg at restart is completed as intended with nakedLeg: complete', async () => {
    const { orders, crashedCoid, second } = await crashBetweenLegs('complete', 'after-journal', 2, `reject=${ETHV}:1`);
    const crashed = orders.find((o) => o.coid === crashedCoid)!;
    expect(crashed.state).toBe('rejected');
    const completion = orders.find((o) => o.intent_id.startsWith('naked-complete'))!;
    expect(completion).toBeDefined();
    expect([completion.conid, completion.side, completion.quantity, completion.state, completion.filled_qty]).toEqual([crashed.conid, crashed.side, crashed.quantity, 'filled', crashed.quantity]);
    expect(second.lines.find((l) => /naked leg resolved/.test(l))).toMatch(/"positions":\["-?\d+ ETH\w+","-?\d+ ETH\w+"\]/);
  }, 300_000);
});
