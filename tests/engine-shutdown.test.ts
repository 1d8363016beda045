/**
 * The node as a real `tandem run` child process against a simulator child process (`tandem sim`),
 * with two strategies (ETF pair + crypto pair) from one engine config:
 *  - kill -9 in the middle of an order, restart: no cOID twice, each strategy resumes its own position;
 *  - a second Ctrl-C with orders still working cancels them at the broker before exiting;
 *  - --flatten-on-exit after the close: refused with a clear message, positions left, non-zero exit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseSync } from 'node:sqlite';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAY_OPEN, simHook } from './helpers/engine-harness.ts';
import { ProcessScope, type SimOrder, type SimPortfolio } from './helpers/processes.ts';
import { cryptoStrategyYaml, pairStrategyYaml } from './helpers/strategy-yaml.ts';

const scope = new ProcessScope();
afterEach(() => scope.cleanup());

const startSim = () => scope.sim(DAY_OPEN);

function twoStrategyConfig(gateway: string): { dir: string; config: string } {
  const dir = scope.tempDir('tandem-node-');
  writeFileSync(join(dir, 'etf.yaml'), pairStrategyYaml({ name: 'etf' }));
  writeFileSync(join(dir, 'crypto.yaml'), cryptoStrategyYaml({ name: 'crypto' }));
  writeFileSync(join(dir, 'engine.yaml'), `kind: engine
gateway: { url: "${gateway}", timeoutMs: 60000 }
mode: paper
dataDir: ${join(dir, 'data')}
logging: { level: INFO }
strategies: [etf.yaml, crypto.yaml]
`);
  return { dir, config: join(dir, 'engine.yaml') };
}

function count(lines: string[], re: RegExp): number {
  return lines.filter((l) => re.test(l)).length;
}

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('trading node processes', () => {
  it('node kill -9 of a two-strategy node mid-order, restart: no cOID twice, each strategy resumes its own position', async () => {
    const info = await startSim();
    const { dir, config } = twoStrategyConfig(info.url);
    const env = { IBKR_PAPER_ACCOUNT_ID: info.accounts.paper };
    // Frozen right after sending its third order (both strategies have traded by then or are trading).
    const first = scope.tandem(['run', '--config', config], { ...env, TANDEM_TEST_PAUSE_AT: 'after-send', TANDEM_TEST_PAUSE_ORDER: '3' });
    await first.waitLine(/engine running/, 90_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
    const paused = await first.waitLine(/^TANDEM-PAUSED /, 120_000);
    const cOID = paused.split(' ')[2]!;
    await simHook(info.url, '/sim/clock', 'POST', { speed: 1 });
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = scope.tandem(['run', '--config', config, '--max-bars', '4'], env);
    await second.waitLine(/engine running/, 120_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
    const code = await second.exited;
    expect(code, second.lines.slice(-20).join('\n')).toBe(0);

    const simOrders = await simHook<SimOrder[]>(info.url, '/sim/orders');
    const sent = simOrders.map((o) => o.cOID).filter((c): c is string => Boolean(c));
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.filter((c) => c === cOID).length).toBe(1);

    const db = new DatabaseSync(join(dir, 'data', 'journal.sqlite'), { readOnly: true });
    const crashed = db.prepare('SELECT state, strategy_id FROM orders WHERE coid = ?').get(cOID) as { state: string; strategy_id: string };
    const positions = db.prepare('SELECT strategy_id AS s, conid, qty FROM positions WHERE qty != 0').all() as { s: string; conid: number; qty: number }[];
    const states = db.prepare('SELECT strategy_id AS s, state FROM strategy_states').all() as { s: string; state: string }[];
    const open = db.prepare("SELECT COUNT(*) AS n FROM orders WHERE state IN ('new','unknown','working','partial')").get() as { n: number };
    const strategiesOfFills = db.prepare('SELECT DISTINCT o.strategy_id AS s, f.conid AS conid FROM fills f JOIN orders o ON o.coid = f.coid').all() as { s: string; conid: number }[];
    db.close();
    expect(['etf', 'crypto']).toContain(crashed.strategy_id);
    expect(crashed.state).toBe('filled');
    expect(open.n).toBe(0);
    const legs: Record<string, [number, number]> = { etf: [900000001, 900000002], crypto: [479624278, 495759171] };
    for (const f of strategiesOfFills) expect(legs[f.s]).toContain(f.conid);
    // Each strategy's saved position is its own book, and the books add up to the broker's positions.
    const pf = await simHook<SimPortfolio>(info.url, '/sim/portfolio');
    const held = pf.find((a) => a.id === info.accounts.paper)!.positions;
    for (const [id, [y, x]] of Object.entries(legs)) {
      const st = JSON.parse(states.find((s) => s.s === id)!.state) as { position: { qtyY: number; qtyX: number } };
      const book = (c: number) => positions.find((p) => p.s === id && p.conid === c)?.qty ?? 0;
      expect([st.position.qtyY, st.position.qtyX]).toEqual([book(y), book(x)]);
      for (const c of [y, x]) expect(book(c)).toBeCloseTo(held.find((p) => p.conid === c)?.qty ?? 0, 8);
    }
  }, 300_000);

  it('node second Ctrl-C with orders working: cancels them at the broker, then exits', async () => {
    const info = await startSim();
    const { config } = twoStrategyConfig(info.url);
    // Orders stay working (the simulator holds them before submitting) so they are open at the signals.
    await simHook(info.url, '/sim/realism', 'POST', { submitDelayMs: 3_600_000 });
    const run = scope.tandem(['run', '--config', config], { IBKR_PAPER_ACCOUNT_ID: info.accounts.paper });
    await run.waitLine(/engine running/, 90_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
    await run.waitLine(/"msg":"order sent"/, 120_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 1 });
    const working = (await simHook<SimOrder[]>(info.url, '/sim/orders')).filter((o) => ['PreSubmitted', 'Submitted', 'PendingSubmit'].includes(o.status));
    expect(working.length).toBeGreaterThan(0);
    run.proc.kill('SIGINT');
    await run.waitLine(/SIGINT: stopping/, 30_000);
    run.proc.kill('SIGINT');
    const code = await run.exited;
    expect(code).toBe(130);
    expect(run.lines.some((l) => /cancelling the orders still working/.test(l))).toBe(true);
    expect(count(run.lines, /cancel sent for a working order/)).toBeGreaterThanOrEqual(working.length);
    await until(async () => (await simHook<SimOrder[]>(info.url, '/sim/orders')).every((o) => ['Cancelled', 'Filled', 'Inactive'].includes(o.status)), 30_000, 'no order left working').catch(async (err: Error) => {
      const left = (await simHook<SimOrder[]>(info.url, '/sim/orders')).filter((o) => !['Cancelled', 'Filled', 'Inactive'].includes(o.status));
      throw new Error(`${err.message}: ${JSON.stringify(left)}\n${run.lines.filter((l) => /order|cancel|SIGINT|stopp/i.test(l)).slice(-40).join('\n')}`);
    });
    const after = await simHook<SimOrder[]>(info.url, '/sim/orders');
    expect(after.filter((o) => o.status === 'Cancelled').length).toBeGreaterThanOrEqual(working.length);
  }, 240_000);

  it('node --flatten-on-exit after the close: refused with a clear message, positions left, non-zero exit', async () => {
    const info = await startSim();
    const dir = scope.tempDir('tandem-flatten-');
    writeFileSync(join(dir, 'etf.yaml'), pairStrategyYaml({ name: 'etf' }));
    writeFileSync(join(dir, 'engine.yaml'), `kind: engine
gateway: { url: "${info.url}", timeoutMs: 60000 }
dataDir: ${join(dir, 'data')}
strategies: [etf.yaml]
`);
    const run = scope.tandem(['run', '--config', join(dir, 'engine.yaml'), '--flatten-on-exit'], { IBKR_PAPER_ACCOUNT_ID: info.accounts.paper });
    await run.waitLine(/engine running/, 90_000);
    await simHook(info.url, '/sim/clock', 'POST', { speed: 600 });
    await until(() => count(run.lines, /"msg":"fill"/) >= 2, 120_000, 'both legs filled');
    // 17:00 New York: the stock market is closed. The simulator's quotes freeze at the close (their
    // time is the last 2 s step before 16:00, and field 31 gets the `C` prefix), so the node's market
    // clock is that time moved on by the wall clock. Wait for the node to say it saw the frozen quote
    // (its "not trading" line), then for its own market check, on the same clock the flatten uses, to
    // report the market closed (the run prints "market closed until …" as the node's `market` event
    // arrives): from then on a flatten is refused, however slow the machine.
    const linesBefore = run.lines.length;
    await simHook(info.url, '/sim/clock', 'POST', { speed: 1, set: Date.UTC(2026, 2, 3, 22, 0) });
    await until(() => run.lines.slice(linesBefore).some((l) => /instrument not trading \(last price is the previous close/.test(l)), 60_000, 'the node to see the close');
    await until(() => run.lines.slice(linesBefore).some((l) => /market closed until/.test(l)), 90_000, 'the node to report the market closed');
    const before = (await simHook<SimPortfolio>(info.url, '/sim/portfolio')).find((a) => a.id === info.accounts.paper)!.positions.filter((p) => p.qty !== 0);
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    expect(code, run.lines.slice(-20).join('\n')).toBe(6);
    expect(run.lines.some((l) => /--flatten-on-exit refused: the market is closed/.test(l))).toBe(true);
    expect(run.lines.some((l) => /the market is closed, so the positions were left open/.test(l))).toBe(true);
    const after = (await simHook<SimPortfolio>(info.url, '/sim/portfolio')).find((a) => a.id === info.accounts.paper)!.positions.filter((p) => p.qty !== 0);
    expect(before.length).toBeGreaterThan(0);
    expect(after).toEqual(before);
  }, 240_000);
});
