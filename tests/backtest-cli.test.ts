/** `tandem backtest` end to end: a spec-example strategy file, a CSV, JSON and report outputs, errors. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-bt-cli-'));

/** Exactly the keys of the spec's example: nothing else may be required. */
const SPEC_EXAMPLE = `name: cointegration_etha_ethv
strategy:
  type: cointegration
  legs:
    y: { symbol: ETHA, secType: STK, exchange: SMART, currency: USD }
    x: { symbol: ETHV, secType: STK, exchange: SMART, currency: USD }
  bar: 5min
  transform: log
  hedge: { method: ols }
  lookback: 120
  entryZ: 2.0
  exitZ: 0.5
  stopZ: 4.0
  maxHoldingBars: 390
  gate: { every: 78, lookback: 390, maxPValue: 0.05 }
  sizing: { capitalFraction: 0.5 }
  shortMode: hedge
costs:
  slippageBps: 2
`;

function tandem(args: string[]) {
  const r = spawnSync(process.execPath, tandemArgv(args), { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('backtest cli', () => {
  const strategy = join(dir, 'strategy.yaml');
  const data = join(dir, 'bars.csv');
  writeFileSync(strategy, SPEC_EXAMPLE);
  writeFileSync(data, pairCsv(syntheticPair({ n: 3000, seed: 3 }), 'ETHA', 'ETHV'));

  it('runs the spec example file and writes JSON and the report', () => {
    const json = join(dir, 'out.json');
    const html = join(dir, 'out.html');
    const r = tandem(['backtest', '--config', strategy, '--data', data, '--cash', '50000', '--json', json, '--report', html]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/aligned bars\s+3000/);
    expect(r.out).toMatch(/starting cash\s+50000\.00/);
    expect(r.out).toMatch(/trades\s+\d+/);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { startingCash: number; equity: unknown[]; trades: unknown[] };
    expect(out.startingCash).toBe(50_000);
    expect(out.equity).toHaveLength(3000);
    expect(out.trades.length).toBeGreaterThan(0);
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(html, 'utf8')).toContain('LightweightCharts');
  });

  it('takes the starting cash from the engine config when --cash is absent', () => {
    const json = join(dir, 'cash.json');
    const r = tandem(['backtest', '--config', strategy, '--data', data, '--json', json]);
    expect(r.code).toBe(0);
    expect((JSON.parse(readFileSync(json, 'utf8')) as { startingCash: number }).startingCash).toBe(100_000);
  });

  it('exits non-zero with file:line:col on a malformed row, without a stack trace', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'time,symbol,open,high,low,close,volume\n2024-01-02T14:30:00Z,ETHA,1,1,1,1,1\n2024-01-02T14:30:00Z,ETHV,1,1,1,oops,1\n');
    const r = tandem(['backtest', '--config', strategy, '--data', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: ${bad}:3:33: column 'close': 'oops' is not a number\n`);
  });

  it('exits non-zero when a leg is missing from the file, or --cash is not a number', () => {
    const other = join(dir, 'other.csv');
    writeFileSync(other, pairCsv(syntheticPair({ n: 10 }), 'ETHA', 'SPY'));
    const r = tandem(['backtest', '--config', strategy, '--data', other]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no bars for ETHV \(leg x of .*strategy\.yaml\)/);
    const c = tandem(['backtest', '--config', strategy, '--data', data, '--cash', 'lots']);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/--cash lots: the starting cash must be a positive number/);
  });

  it('reports a bad strategy file with file:line:col', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, SPEC_EXAMPLE.replace('entryZ: 2.0', 'entryZ: two'));
    const r = tandem(['backtest', '--config', bad, '--data', data]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/bad\.yaml:\d+:\d+: strategy\.entryZ/);
  });
});
