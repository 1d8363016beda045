/**
 * Parameter research (`tandem sweep`): a grid of parameter points backtested over the same bars
 * and ranked, and walk-forward analysis, which picks the best point on each training window and
 * scores it on the window that follows, so the figures that matter are out of sample.
 *
 * Ranking: the higher Sharpe first; then the higher total return; then the smaller drawdown;
 * then more trades; then grid order (stable whatever thread finished first). Points are spread
 * over worker threads; every run is independent (its own strategy, its own starting cash).
 */
import { availableParallelism } from 'node:os';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { ProgressBar } from '../util/progress.ts';
import { barsPerYear, EquityStats, type Metrics } from './metrics.ts';
import { applyPoint, describePoint, gridPoints, type GridAxis, type GridPoint } from './sweep-grid.ts';
import { runWindow, type PairColumns, type RunOutcome, type RunSettings, type RunTask, type Window } from './sweep-run.ts';
import { startWorker } from '../util/worker-entry.ts';

/** The worker's module (started through util/worker-entry.ts, from dist/ or the sources). */
const WORKER_MODULE = new URL('./sweep-worker.ts', import.meta.url);

export interface SweepOptions extends RunSettings {
  /** Worker threads; 0 = this thread; default: one per core (at most one per task). */
  workers?: number;
  progress?: boolean;
}

export interface PointResult {
  /** Index in grid order. */
  index: number;
  point: GridPoint;
  metrics: Metrics;
  finalEquity: number;
  /** Why the point never traded, when it did not. */
  hint: string | null;
}

export interface SkippedPoint {
  index: number;
  point: GridPoint;
  reason: string;
}

export interface SweepResult {
  axes: GridAxis[];
  bars: number;
  /** Ranked, best first. */
  ranked: PointResult[];
  skipped: SkippedPoint[];
  workers: number;
}

export function rankPoints<T extends { index: number; metrics: Metrics }>(rows: T[]): T[] {
  return [...rows].sort(
    (p, q) =>
      q.metrics.sharpe - p.metrics.sharpe ||
      q.metrics.totalReturn - p.metrics.totalReturn ||
      p.metrics.maxDrawdown - q.metrics.maxDrawdown ||
      q.metrics.trades - p.metrics.trades ||
      p.index - q.index,
  );
}

/** Runs tasks over the columns, in this thread or spread over workers; outcomes in task order. */
export async function runTasks(columns: PairColumns, tasks: RunTask[], settings: RunSettings, opts: { workers?: number; progress?: boolean; label: string }): Promise<{ outcomes: RunOutcome[]; workers: number }> {
  const bar = new ProgressBar({ label: opts.label, total: tasks.length, ...(opts.progress !== undefined ? { enabled: opts.progress } : {}) });
  const workers = Math.min(tasks.length, opts.workers ?? availableParallelism());
  const byId = new Map<number, RunOutcome>();
  if (workers <= 1) {
    for (const t of tasks) {
      byId.set(t.id, runWindow(columns, t, settings));
      bar.tick();
    }
  } else {
    const shared = sharedColumns(columns);
    const slices: RunTask[][] = Array.from({ length: workers }, () => []);
    tasks.forEach((t, k) => slices[k % workers]!.push(t));
    await Promise.all(
      slices.map(
        (slice) =>
          new Promise<void>((resolve, reject) => {
            const w = startWorker(WORKER_MODULE, { columns: shared, tasks: slice, settings });
            w.on('message', (m: RunOutcome) => {
              byId.set(m.id, m);
              bar.tick();
            });
            w.on('error', reject);
            w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sweep worker exited with code ${code}`))));
          }),
      ),
    );
  }
  bar.finish();
  return { outcomes: tasks.map((t) => byId.get(t.id)!), workers: workers > 1 ? workers : 0 };
}

function sharedColumns(c: PairColumns): PairColumns {
  if (c.time.buffer instanceof SharedArrayBuffer) return c;
  const out: Record<string, Float64Array> = {};
  for (const [k, a] of Object.entries(c)) {
    const s = new Float64Array(new SharedArrayBuffer(a.length * 8));
    s.set(a);
    out[k] = s;
  }
  return out as PairColumns;
}

interface ValidPoint {
  index: number;
  point: GridPoint;
  params: CointegrationParams;
}

function validPoints(base: CointegrationParams, axes: GridAxis[]): { valid: ValidPoint[]; skipped: SkippedPoint[] } {
  const valid: ValidPoint[] = [];
  const skipped: SkippedPoint[] = [];
  gridPoints(axes).forEach((point, index) => {
    const r = applyPoint(base, point);
    if (r.ok) valid.push({ index, point, params: r.params });
    else skipped.push({ index, point, reason: r.reason });
  });
  if (valid.length === 0) throw new UserError(`--grid: no valid point (${skipped[0] ? `${describePoint(skipped[0].point)}: ${skipped[0].reason}` : 'empty grid'})`);
  return { valid, skipped };
}

/** Every valid grid point over all the bars, ranked. */
export async function sweep(columns: PairColumns, base: CointegrationParams, axes: GridAxis[], opts: SweepOptions): Promise<SweepResult> {
  const n = columns.time.length;
  if (n < 2) throw new UserError(`a sweep needs at least 2 aligned bars; the data has ${n}`);
  const { valid, skipped } = validPoints(base, axes);
  const tasks: RunTask[] = valid.map((v) => ({ id: v.index, params: v.params, window: { warmFrom: 0, from: 0, to: n }, keepEquity: false }));
  const { outcomes, workers } = await runTasks(columns, tasks, opts, { label: 'sweep', ...pick(opts) });
  const rows = valid.map((v, k) => ({ index: v.index, point: v.point, metrics: outcomes[k]!.metrics, finalEquity: outcomes[k]!.finalEquity, hint: outcomes[k]!.hint }));
  return { axes, bars: n, ranked: rankPoints(rows), skipped, workers };
}

function pick(o: SweepOptions): { workers?: number; progress?: boolean } {
  return { ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Walk-forward

/** A window length: a number of aligned bars, or a duration (`5d`, `12h`, `90min`, `2w`). */
export type Span = { bars: number } | { ms: number };

export interface WalkForwardSpec {
  train: Span;
  test: Span;
}

const UNIT_MS: Record<string, number> = { min: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

function parseSpan(name: string, text: string): Span {
  if (/^[1-9]\d*$/.test(text)) return { bars: Number(text) };
  const m = /^([1-9]\d*)(min|h|d|w)$/.exec(text);
  if (!m) throw new UserError(`--walk-forward ${name}=${text}: expected a number of bars (e.g. 2000) or a duration (e.g. 20d, 12h, 90min, 2w)`);
  return { ms: Number(m[1]) * UNIT_MS[m[2]!]! };
}

export function parseWalkForward(spec: string): WalkForwardSpec {
  const parts = new Map<string, string>();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = item.split('=');
    if ((k !== 'train' && k !== 'test') || !v) throw new UserError(`--walk-forward '${spec}': expected train=N,test=M (bars, or durations such as 20d)`);
    parts.set(k, v.trim());
  }
  if (!parts.has('train') || !parts.has('test')) throw new UserError(`--walk-forward '${spec}': give both train= and test=, e.g. train=2000,test=500 or train=20d,test=5d`);
  return { train: parseSpan('train', parts.get('train')!), test: parseSpan('test', parts.get('test')!) };
}

export interface Fold {
  trainFrom: number;
  trainTo: number;
  testTo: number;
}

/** First index with time ≥ t. */
function lowerBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (time[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Rolling folds: training windows of `train`, each followed by a test window of `test`; the next
 * fold starts `test` later, so the test windows tile the data after the first training window.
 * The last test window may be shorter (at least 2 bars).
 */
export function walkForwardFolds(time: Float64Array, spec: WalkForwardSpec): Fold[] {
  const n = time.length;
  const folds: Fold[] = [];
  const { train, test } = spec;
  if ('bars' in train && 'bars' in test) {
    for (let s = 0; s + train.bars + 2 <= n; s += test.bars) folds.push({ trainFrom: s, trainTo: s + train.bars, testTo: Math.min(n, s + train.bars + test.bars) });
  } else if ('ms' in train && 'ms' in test) {
    const t0 = time[0]!;
    for (let k = 0; ; k++) {
      const start = t0 + k * test.ms;
      const trainFrom = lowerBound(time, start);
      const trainTo = lowerBound(time, start + train.ms);
      const testTo = lowerBound(time, start + train.ms + test.ms);
      if (trainTo + 2 > n) break;
      if (testTo - trainTo >= 2 && trainTo - trainFrom >= 2) folds.push({ trainFrom, trainTo, testTo });
    }
  } else throw new UserError('--walk-forward: give train and test in the same unit (both bars, or both durations)');
  return folds;
}

/** The folds, or the error that says why there are none. */
export function plannedFolds(time: Float64Array, spec: WalkForwardSpec): Fold[] {
  const folds = walkForwardFolds(time, spec);
  if (folds.length === 0) throw new UserError(`--walk-forward: the data (${time.length} aligned bars) is shorter than one training window plus a test window; use a shorter train= or a longer range`);
  return folds;
}

export interface FoldResult extends Fold {
  /** The best point in sample, and its in-sample figures. */
  best: PointResult;
  /** Out of sample: the best point over the test window, warmed up on the training window. */
  test: { metrics: Metrics; finalEquity: number; hint: string | null };
}

export interface WalkForwardResult {
  axes: GridAxis[];
  bars: number;
  folds: FoldResult[];
  /** The test windows chained (each fold's returns compounded onto the previous fold's end). */
  outOfSample: Pick<Metrics, 'totalReturn' | 'sharpe' | 'maxDrawdown'> & { trades: number; bars: number };
  skipped: SkippedPoint[];
  workers: number;
}

export async function walkForward(columns: PairColumns, base: CointegrationParams, axes: GridAxis[], spec: WalkForwardSpec, opts: SweepOptions): Promise<WalkForwardResult> {
  const n = columns.time.length;
  const folds = plannedFolds(columns.time, spec);
  const { valid, skipped } = validPoints(base, axes);

  // 1. Every point on every training window.
  const trainTasks: RunTask[] = folds.flatMap((f, k) =>
    valid.map((v, j) => ({ id: k * valid.length + j, params: v.params, window: { warmFrom: f.trainFrom, from: f.trainFrom, to: f.trainTo }, keepEquity: false })),
  );
  const trained = await runTasks(columns, trainTasks, opts, { label: 'walk-forward: training', ...pick(opts) });

  // 2. The best point of each fold on its test window, warmed up on the training window.
  const best: PointResult[] = folds.map((_, k) => {
    const rows = valid.map((v, j) => {
      const o = trained.outcomes[k * valid.length + j]!;
      return { index: v.index, point: v.point, metrics: o.metrics, finalEquity: o.finalEquity, hint: o.hint };
    });
    return rankPoints(rows)[0]!;
  });
  const paramsOf = new Map(valid.map((v) => [v.index, v.params]));
  const testTasks: RunTask[] = folds.map((f, k) => ({ id: k, params: paramsOf.get(best[k]!.index)!, window: testWindow(f), keepEquity: true }));
  const tested = await runTasks(columns, testTasks, opts, { label: 'walk-forward: testing', ...pick(opts) });

  // 3. The out-of-sample curve: each test window's returns chained onto the previous end.
  const stats = new EquityStats();
  let level = opts.startingCash;
  let trades = 0;
  let bars = 0;
  const results: FoldResult[] = folds.map((f, k) => {
    const o = tested.outcomes[k]!;
    const eq = o.equity!;
    for (let i = k === 0 ? 0 : 1; i < eq.length; i++) stats.push((level * eq[i]!) / eq[0]!);
    level = (level * eq[eq.length - 1]!) / eq[0]!;
    trades += o.metrics.trades;
    bars += eq.length;
    return { ...f, best: best[k]!, test: { metrics: o.metrics, finalEquity: o.finalEquity, hint: o.hint } };
  });
  const B = barsPerYear([base.legs.y.secType, base.legs.x.secType], base.bar);
  const s = stats.summary(opts.startingCash, B);
  return {
    axes,
    bars: n,
    folds: results,
    outOfSample: { totalReturn: s.totalReturn, sharpe: s.sharpe, maxDrawdown: s.maxDrawdown, trades, bars },
    skipped,
    workers: Math.max(trained.workers, tested.workers),
  };
}

export function testWindow(f: Fold): Window {
  return { warmFrom: f.trainFrom, from: f.trainTo, to: f.testTo };
}
