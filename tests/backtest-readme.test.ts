/**
 * The README's backtest example, run as a new user would against the simulator (seed 1, the
 * repository's ETHA/ETHV strategy): five weeks of history trade, and a single week says why it
 * cannot (the gate's 390-bar look-back). Pins the figures the README quotes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { runTandem } from './helpers/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-readme-'));
const config = resolve(import.meta.dirname, '..', 'configs/strategies/cointegration_etha_ethv.yaml');
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ authenticated: true, seed: 1, profile: 'ideal' });
});
afterAll(async () => {
  await sim?.close();
});

describe('README backtest example', () => {
  it('five weeks of 5-minute bars trade; the summary explains the run', async () => {
    const h = await runTandem(['history', '--config', config, '--start', '2026-02-02', '--end', '2026-03-06', '--out', 'bars.csv', '--gateway', sim.url], dir);
    expect(h.code).toBe(0);
    expect(h.out).toBe('bars (ETHA 1950, ETHV 1950) written to bars.csv\n');
    const b = await runTandem(['backtest', '--config', config, '--data', 'bars.csv'], dir);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/aligned bars\s+1950\n/);
    expect(b.out).toMatch(/total return\s+2\.08%\n/);
    expect(b.out).toMatch(/Sharpe\s+4\.96\n/);
    expect(b.out).toMatch(/trades\s+17 \(0 open at the end\)\n/);
    expect(b.out).toMatch(/gate\s+open on \d+ bars/);
    expect(b.out).not.toContain('why no trades');
  }, 180_000);

  it('one week makes no trade and says the gate needs 390 bars', async () => {
    const h = await runTandem(['history', '--config', config, '--start', '2026-03-02', '--end', '2026-03-06', '--out', 'week.csv', '--gateway', sim.url], dir);
    expect(h.code).toBe(0);
    const b = await runTandem(['backtest', '--config', config, '--data', 'week.csv'], dir);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/trades\s+0 \(0 open at the end\)\n/);
    expect(b.out).toMatch(/why no trades\s+the gate needs 390 bars; the data has 390 aligned bars/);
  }, 180_000);
});
