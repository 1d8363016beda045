/**
 * Parameter research: the sweep (on real worker threads) and walk-forward analysis give exactly
 * what a direct loop over the same parameters and windows gives; grids and window specs are
 * parsed with clear errors; `tandem sweep` prints the ranking and writes the heat map report.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainParams } from '../src/backtest/diagnostics.ts';
import { runBacktest } from '../src/backtest/runner.ts';
import { applyPoint, gridPoints, parseGrid } from '../src/backtest/sweep-grid.ts';
import { pairColumns } from '../src/backtest/sweep-run.ts';
import { parseWalkForward, sweep, walkForward, walkForwardFolds } from '../src/backtest/sweep.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';
import { CointegrationStrategy } from '../src/strategies/cointegration/strategy.ts';
import type { PairBar } from '../src/strategies/types.ts';
import { pairCsv, syntheticPair } from './helpers/pair-data.ts';
import { testParams } from './helpers/params.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

const N = 1500;
const bars: PairBar[] = [...syntheticPair({ n: N, seed: 21 })];
const base = testParams({ transform: 'log', lookback: 60, entryZ: 2, exitZ: 0.5, stopZ: 3.5, maxHoldingBars: 150 });
const settings = { slippageBps: 2, startingCash: 100_000 };

/** The direct loop: a fresh strategy per run, optionally warmed up on earlier bars. */
function direct(p: CointegrationParams, from: number, to: number, warmFrom = from) {
  const s = new CointegrationStrategy(p);
  for (const b of bars.slice(warmFrom, from)) s.onBar(b, { equity: settings.startingCash, warmup: true });
  return runBacktest(bars.slice(from, to), s, { legs: p.legs, bar: p.bar, ...settings, explain: explainParams(p) });
}

describe('sweep grid', () => {
  it('parses keys and values, every combination in order', () => {
    const axes = parseGrid(' entryZ=1.5,2,2.5   lookback=60,120 ');
    expect(axes).toEqual([
      { key: 'entryZ', values: [1.5, 2, 2.5] },
      { key: 'lookback', values: [60, 120] },
    ]);
    expect(gridPoints(axes)).toHaveLength(6);
    expect(gridPoints(axes)[1]).toEqual({ entryZ: 1.5, lookback: 120 });
    expect(parseGrid('gate.lookback=260,390')[0]!.key).toBe('gate.lookback');
  });

  it('refuses bad specs with the part at fault', () => {
    expect(() => parseGrid('entryZ=1.5,two')).toThrow(/--grid 'entryZ=1.5,two': 'two' is not a number/);
    expect(() => parseGrid('=1,2')).toThrow(/expected key=v1,v2/);
    expect(() => parseGrid('entryZ=1 entryZ=2')).toThrow(/given twice/);
    expect(() => applyPoint(base, { colour: 2 })).toThrow(/not a numeric parameter/);
    expect(() => applyPoint(base, { 'gate.lookback': 300 })).toThrow(/no 'gate' section/);
    expect(() => parseWalkForward('train=100')).toThrow(/give both train= and test=/);
    expect(() => parseWalkForward('train=10x,test=5')).toThrow(/train=10x: expected a number of bars/);
  });

  it('skips a point the config would refuse, with the reason', () => {
    const r = applyPoint(base, { entryZ: 0.4 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/exitZ: exitZ \(0\.5\) must be below entryZ \(0\.4\)/);
  });
});

describe('sweep', () => {
  it('on worker threads, matches a direct loop over the same points, ranked by Sharpe', async () => {
    const axes = parseGrid('entryZ=0.4,1.5,2 lookback=40,80');
    const cols = pairColumns(bars, N, true);
    const r = await sweep(cols, base, axes, { ...settings, workers: 2, progress: false });
    expect(r.workers).toBe(2);
    expect(r.skipped.map((s) => s.point)).toEqual([
      { entryZ: 0.4, lookback: 40 },
      { entryZ: 0.4, lookback: 80 },
    ]);
    expect(r.ranked).toHaveLength(4);
    const expected = gridPoints(axes)
      .filter((p) => p.entryZ !== 0.4)
      .map((point) => ({ point, metrics: direct(testParams({ ...base, ...point }), 0, N).metrics }));
    for (const e of expected) {
      const got = r.ranked.find((p) => p.point.entryZ === e.point.entryZ && p.point.lookback === e.point.lookback)!;
      expect(got.metrics).toEqual(e.metrics);
      expect(got.metrics.trades).toBeGreaterThan(0);
    }
    const sharpes = r.ranked.map((p) => p.metrics.sharpe);
    expect(sharpes).toEqual([...sharpes].sort((a, b) => b - a));
    // The same figures in this thread.
    const inline = await sweep(pairColumns(bars, N), base, axes, { ...settings, workers: 0, progress: false });
    expect(inline.ranked).toEqual(r.ranked);
  }, 120_000);
});

describe('walk-forward', () => {
  it('folds in bars: test windows tile the data after the first training window', () => {
    const time = Float64Array.from(bars, (b) => b.time);
    expect(walkForwardFolds(time, parseWalkForward('train=600,test=300'))).toEqual([
      { trainFrom: 0, trainTo: 600, testTo: 900 },
      { trainFrom: 300, trainTo: 900, testTo: 1200 },
      { trainFrom: 600, trainTo: 1200, testTo: 1500 },
      { trainFrom: 900, trainTo: 1500, testTo: 1500 },
    ].filter((f) => f.testTo - f.trainTo >= 2));
    // 5-minute bars around the clock: one day is 288 bars.
    expect(walkForwardFolds(time, parseWalkForward('train=2d,test=1d'))).toEqual([
      { trainFrom: 0, trainTo: 576, testTo: 864 },
      { trainFrom: 288, trainTo: 864, testTo: 1152 },
      { trainFrom: 576, trainTo: 1152, testTo: 1440 },
      { trainFrom: 864, trainTo: 1440, testTo: 1500 },
    ]);
  });

  it('picks the best point in sample and scores it out of sample, as a direct loop does', async () => {
    const axes = parseGrid('entryZ=1.5,2,2.5 lookback=40,80');
    const cols = pairColumns(bars, N, true);
    const wf = await walkForward(cols, base, axes, parseWalkForward('train=600,test=300'), { ...settings, workers: 2, progress: false });
    expect(wf.folds).toHaveLength(3);
    let level = 1;
    let trades = 0;
    for (const [k, f] of wf.folds.entries()) {
      const trainFrom = k * 300;
      const trainTo = trainFrom + 600;
      const testTo = trainTo + 300;
      expect([f.trainFrom, f.trainTo, f.testTo]).toEqual([trainFrom, trainTo, testTo]);
      const candidates = gridPoints(axes).map((point) => ({ point, sharpe: direct(testParams({ ...base, ...point }), trainFrom, trainTo).metrics.sharpe }));
      const best = candidates.reduce((a, b) => (b.sharpe > a.sharpe ? b : a));
      expect(f.best.point).toEqual(best.point);
      expect(f.best.metrics.sharpe).toBe(best.sharpe);
      const oos = direct(testParams({ ...base, ...best.point }), trainTo, testTo, trainFrom);
      expect(f.test.metrics).toEqual(oos.metrics);
      level *= oos.finalEquity / settings.startingCash;
      trades += oos.metrics.trades;
    }
    expect(wf.outOfSample.totalReturn).toBeCloseTo(level - 1, 12);
    expect(wf.outOfSample.trades).toBe(trades);
    expect(wf.outOfSample.bars).toBe(900);
  }, 120_000);

  it('says so when the data is shorter than one fold', async () => {
    const cols = pairColumns(bars, N);
    await expect(walkForward(cols, base, parseGrid('entryZ=2'), parseWalkForward('train=1499,test=300'), { ...settings, workers: 0 })).rejects.toThrow(
      /shorter than one training window plus a test window/,
    );
  });
});

describe('tandem sweep', () => {
  it('prints the ranking and the out-of-sample folds, writes the heat map and JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-sweep-'));
    writeFileSync(join(dir, 'bars.csv'), pairCsv(bars, 'ETHA', 'ETHV'));
    writeFileSync(join(dir, 'pair.yaml'), pairStrategyYaml({ name: 'sweep_pair', lookback: 60, entryZ: 2, exitZ: 0.5, stopZ: 3.5 }));
    const r = spawnSync(
      process.execPath,
      tandemArgv(['sweep', '--config', 'pair.yaml', '--data', 'bars.csv', '--grid', 'entryZ=1.5,2 lookback=40,80', '--walk-forward', 'train=2d,test=1d', '--workers', '2', '--report', 'sweep.html', '--json', 'sweep.json']),
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rank\s+point\s+Sharpe\s+return\s+max DD\s+trades\s+win rate\n1\s+entryZ=/);
    expect(r.stdout).toContain('4 point(s) over 1500 aligned bars, ranked by Sharpe');
    expect(r.stdout).toMatch(/out of sample \(4 test windows chained, \d+ bars\): return -?\d+\.\d\d%, Sharpe -?\d+\.\d\d/);
    const html = readFileSync(join(dir, 'sweep.html'), 'utf8');
    expect(html).toContain('Sharpe heat map (entryZ across, lookback down)');
    expect(html.match(/<td class="cell" style="background:rgb/g)).toHaveLength(4);
    expect(html).toContain('Walk-forward: out of sample');
    const json = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { sweep: { ranked: unknown[] }; walkForward: { folds: unknown[] } };
    expect(json.sweep.ranked).toHaveLength(4);
    expect(json.walkForward.folds).toHaveLength(4);
  }, 120_000);
});
