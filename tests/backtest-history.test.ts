/**
 * History from the gateway (the simulator, on loopback): `tandem history` writes a bar file of
 * both legs, and `tandem backtest --from-gateway` downloads then backtests it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBarsCsv } from '../src/backtest/csv.ts';
import { parseRange } from '../src/backtest/history.ts';
import { loadBars } from '../src/backtest/bar-files.ts';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { runTandem } from './helpers/processes.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-history-'));
let sim: RunningSimulator;

const STRATEGY = pairStrategyYaml({ name: 'sim_pair', entryZ: 1.5, exitZ: 0.3 });

beforeAll(async () => {
  sim = await startSimulator({ authenticated: true, seed: 7, startTime: '2024-03-15T21:00:00Z', profile: 'ideal' });
  writeFileSync(join(dir, 'pair.yaml'), STRATEGY);
});
afterAll(async () => {
  await sim?.close();
});

const tandem = (args: string[]) => runTandem(args, dir);

describe('backtest history', () => {
  it('parses the range: a date alone as --end includes that day', () => {
    expect(parseRange('2024-03-13', '2024-03-13')).toEqual({ from: Date.UTC(2024, 2, 13), to: Date.UTC(2024, 2, 14) });
    expect(parseRange('2024-03-13T14:00:00Z', '2024-03-13T15:00:00Z')).toEqual({ from: Date.UTC(2024, 2, 13, 14), to: Date.UTC(2024, 2, 13, 15) });
    expect(() => parseRange('2024-03-14', '2024-03-13')).toThrow(/is not before/);
    expect(() => parseRange('soon', '2024-03-13')).toThrow(/--start soon/);
  });

  it('tandem history downloads both legs into a bar file', async () => {
    const r = await tandem(['history', '--config', 'pair.yaml', '--start', '2024-03-14', '--end', '2024-03-14', '--gateway', sim.url, '--out', 'bars.csv']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bars \(ETHA \d+, ETHV \d+\) written to bars\.csv/);
    const m = await loadBarsCsv(join(dir, 'bars.csv'));
    const y = m.get('ETHA')!;
    const x = m.get('ETHV')!;
    expect(y.length).toBeGreaterThan(50);
    expect(x.length).toBe(y.length);
    expect(y.time[0]).toBeGreaterThanOrEqual(Date.UTC(2024, 2, 14));
    expect(y.time[y.length - 1]).toBeLessThan(Date.UTC(2024, 2, 15));
    expect(y.time[1]! - y.time[0]!).toBe(300_000);
  }, 120_000);

  it('tandem history --out x.parquet writes the same bars as Parquet', async () => {
    const r = await tandem(['history', '--config', 'pair.yaml', '--start', '2024-03-14', '--end', '2024-03-14', '--gateway', sim.url, '--out', 'bars.parquet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'bars.parquet')).subarray(0, 4).toString()).toBe('PAR1');
    const csv = await loadBarsCsv(join(dir, 'bars.csv'));
    const pq = await loadBars(join(dir, 'bars.parquet'));
    for (const sym of ['ETHA', 'ETHV']) {
      for (const k of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(pq.get(sym)![k])).toEqual(Array.from(csv.get(sym)![k]));
    }
  }, 120_000);

  it('tandem backtest --from-gateway downloads then backtests', async () => {
    const r = await tandem(['backtest', '--config', 'pair.yaml', '--from-gateway', '--start', '2024-03-14', '--end', '2024-03-14', '--gateway', sim.url, '--json', 'out.json']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/bars \(ETHA \d+, ETHV \d+\) downloaded to .*history.*ETHA_ETHV_5min_20240314T000000Z_20240315T000000Z\.parquet/);
    expect(r.out).toMatch(/aligned bars\s+\d+/);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { equity: unknown[] };
    expect(out.equity.length).toBeGreaterThan(50);
    // The same range again comes from the cache (Parquet), with the same result.
    const again = await tandem(['backtest', '--config', 'pair.yaml', '--from-gateway', '--start', '2024-03-14', '--end', '2024-03-14', '--gateway', 'https://127.0.0.1:9', '--json', 'out2.json']);
    expect(again.err).toMatch(/bars \(ETHA \d+, ETHV \d+\) read from the cache .*ETHA_ETHV_5min_20240314T000000Z_20240315T000000Z\.parquet/);
    expect(again.code).toBe(0);
    expect(readFileSync(join(dir, 'out2.json'), 'utf8')).toBe(readFileSync(join(dir, 'out.json'), 'utf8'));
  }, 120_000);

  it('refuses --data together with --from-gateway, and --from-gateway without dates', async () => {
    const a = await tandem(['backtest', '--config', 'pair.yaml', '--from-gateway', '--data', 'bars.csv', '--start', '2024-03-14', '--end', '2024-03-14']);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/either --data FILE \(\.csv or \.parquet\) or --from-gateway/);
    const b = await tandem(['backtest', '--config', 'pair.yaml', '--from-gateway']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--from-gateway needs --start DATE and --end DATE/);
  });
});
