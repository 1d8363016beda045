/**
 * "Why nothing happened": every reason a backtest can end without a trade is produced on real
 * data through the real runner and strategy, and the counters and the hint say so; the CLI prints
 * them and the JSON carries them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticsCounter, explainParams } from '../src/backtest/diagnostics.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { gaussian, pairCsv, rng, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import { zBars } from './helpers/z-bars.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

function run(bars: Iterable<PairBar>, p: CointegrationParams, startingCash = 100_000) {
  return runBacktest(bars, new CointegrationStrategy(p), { legs: p.legs, bar: p.bar, slippageBps: 2, startingCash, explain: explainParams(p) });
}

/** Two independent random walks: never cointegrated. */
function* unrelated(n: number, seed: number): Generator<PairBar> {
  const g = gaussian(rng(seed));
  let a = Math.log(30);
  let b = Math.log(50);
  for (let i = 0; i < n; i++) {
    a += 0.004 * g();
    b += 0.004 * g();
    const y = Math.exp(a);
    const x = Math.exp(b);
    yield { time: Date.UTC(2024, 0, 2, 14, 30) + i * 300_000, y: { open: y, high: y, low: y, close: y, volume: 1 }, x: { open: x, high: x, low: x, close: x, volume: 1 } };
  }
}

describe('backtest diagnostics', () => {
  it('a run shorter than the lookback: all warm-up', () => {
    const p = testParams({ transform: 'log', lookback: 120 });
    const r = run(syntheticPair({ n: 100, seed: 1 }), p);
    expect(r.trades).toHaveLength(0);
    expect(r.diagnostics.warmupBars).toBe(99);
    expect(r.diagnostics.barsDecided).toBe(99);
    expect(r.diagnostics.hint).toBe(
      'the strategy needs 120 bars before its first z-score (lookback); the data has 100 aligned bars (the strategy decides on 99: the last bar only fills): use a longer range or a shorter lookback',
    );
  });

  it('the gate needs more bars than the data has (the README example of a week of 5-minute bars)', () => {
    const p = testParams({ transform: 'log', lookback: 120, gate: { every: 78, lookback: 390, maxPValue: 0.05 } });
    const r = run(syntheticPair({ n: 390, seed: 3 }), p);
    const d = r.diagnostics;
    expect(r.trades).toHaveLength(0);
    expect(d.warmupBars).toBe(119);
    // Tests at bars 119, 197, 275, 353: none had 390 bars.
    expect(d.gate).toMatchObject({ checks: 4, checksWithoutPValue: 4, pValueMin: null, openBars: 0, blockedBars: 389 - 119 });
    expect(d.gate!.blockedSignals).toBeGreaterThan(0);
    expect(d.hint).toMatch(/^the gate needs 390 bars; the data has 390 aligned bars .*: use a longer range or a shorter gate\.lookback$/);
  });

  it('the gate tests but never opens: p-values stated', () => {
    const p = testParams({ transform: 'log', lookback: 60, gate: { every: 50, lookback: 200, maxPValue: 0.001 } });
    const r = run(unrelated(1500, 9), p);
    const g = r.diagnostics.gate!;
    expect(r.trades).toHaveLength(0);
    expect(g.openBars).toBe(0);
    expect(g.checks - g.checksWithoutPValue).toBeGreaterThan(10);
    expect(g.pValueMin!).toBeGreaterThan(0.001);
    expect(g.pValueMin!).toBeLessThanOrEqual(g.pValueMedian!);
    expect(g.pValueMedian!).toBeLessThanOrEqual(g.pValueMax!);
    expect(r.diagnostics.hint).toMatch(/^the gate never opened: \d+ test\(s\), p-values min 0\.\d{4}, median 0\.\d{4}, all above gate\.maxPValue 0\.001/);
  });

  it('z never reaches entryZ: the largest |z| is stated', () => {
    const p = testParams({ lookback: 40, entryZ: 2.5, exitZ: 0.5, stopZ: 4 });
    const zb = zBars(40, [1.2, -2.1, 0.4, 2.2, 0]);
    const r = run(zb.bars, p);
    expect(r.trades).toHaveLength(0);
    expect(r.diagnostics.signals).toBe(0);
    expect(r.diagnostics.maxAbsZWhileEligible!).toBeGreaterThanOrEqual(2.2 - 1e-6);
    expect(r.diagnostics.hint).toMatch(/^\|z\| never reached entryZ 2\.5 while flat \(largest \|z\| there: 2\.\d\d\): lower entryZ/);
  });

  it('entry signals sized to zero: too little cash for one share', () => {
    const p = testParams({ lookback: 40 });
    const zb = zBars(40, [0, 2.5, 0, -2.5, 0]);
    const r = run(zb.bars, p, 50);
    expect(r.trades).toHaveLength(0);
    expect(r.diagnostics).toMatchObject({ signals: 2, sizingSkipped: 2, entries: 0 });
    expect(r.diagnostics.hint).toMatch(/^all 2 entry signal\(s\) were sized to zero .*: raise --cash or sizing\.capitalFraction$/);
  });

  it('signals during a cool-down after a stop are counted', () => {
    const p = testParams({ lookback: 40, entryZ: 2, exitZ: 0.5, stopZ: 3.5 });
    const zb = zBars(40, [2.5, 3.8, 2.5, 2.6, 0.2, 2.4, 0.1, 0]);
    const r = run(zb.bars, p);
    expect(r.trades.map((t) => t.exitReason)).toEqual(['stop', 'exit']);
    expect(r.diagnostics.cooldownBlockedSignals).toBe(2);
    expect(r.diagnostics.entries).toBe(2);
    expect(r.diagnostics.hint).toBeNull();
  });

  it('refusals by the executing runner are counted and explain a run without trades', () => {
    const p = testParams({ lookback: 40 });
    const counter = new DiagnosticsCounter(explainParams(p));
    const zb = zBars(40, [0, 2.5, 0]);
    const strategy = new CointegrationStrategy(p);
    for (const bar of zb.bars.slice(0, -1)) {
      const step = strategy.onBar(bar, { equity: 100_000 });
      // A runner that refuses the entry (e.g. outside market hours) reports it and keeps the strategy flat.
      if (step.decision.action === 'enter') {
        counter.refused('marketHours');
        strategy.syncPosition({ qtyY: 0, qtyX: 0 });
        counter.observe(step.diagnostics, { action: 'none' });
      } else counter.observe(step.diagnostics, step.decision);
    }
    const d = counter.summary(zb.bars.length, 0);
    expect(d.refused).toEqual({ risk: 0, marketHours: 1 });
    expect(d.hint).toBe('every entry was refused: 0 by risk limits, 1 by market hours');
  });

  it('a run that trades has no hint; the in-process runner refuses nothing', () => {
    const p = testParams({ transform: 'log', lookback: 100, gate: { every: 50, lookback: 300, maxPValue: 0.05 } });
    const r = run(syntheticPair({ n: 3000, seed: 5 }), p);
    expect(r.trades.length).toBeGreaterThan(0);
    expect(r.diagnostics.hint).toBeNull();
    expect(r.diagnostics.refused).toEqual({ risk: 0, marketHours: 0 });
    expect(r.diagnostics.entries).toBe(r.trades.length);
    expect(r.diagnostics.gate!.openBars).toBeGreaterThan(0);
    expect(r.diagnostics.warmupBars + r.diagnostics.undefinedZBars).toBe(99);
  });

  it('the CLI prints the reasons and the JSON carries them', () => {
    const root = resolve(import.meta.dirname, '..');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-why-'));
    writeFileSync(join(dir, 'bars.csv'), pairCsv(syntheticPair({ n: 390, seed: 3 }), 'ETHA', 'ETHV'));
    const r = spawnSync(process.execPath, tandemArgv(['backtest', '--config', join(root, 'configs/strategies/cointegration_etha_ethv.yaml'), '--data', 'bars.csv', '--json', 'out.json']), { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/warm-up\s+119 bars before the first z-score/);
    expect(r.stdout).toMatch(/gate\s+open on 0 bars, blocked entry on 270 flat bars/);
    expect(r.stdout).toMatch(/refused\s+0 by risk limits, 0 by market hours/);
    expect(r.stdout).toMatch(/why no trades\s+the gate needs 390 bars; the data has 390 aligned bars/);
    const json = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { diagnostics: { hint: string; warmupBars: number } };
    expect(json.diagnostics.warmupBars).toBe(119);
    expect(json.diagnostics.hint).toMatch(/^the gate needs 390 bars/);
  });
});
