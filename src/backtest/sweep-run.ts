/**
 * One grid point over one window of a pair's aligned bars: the unit of work of `tandem sweep`
 * and of walk-forward research, run in the main thread or in a worker. The bars live in shared
 * columns (one Float64Array per field, SharedArrayBuffers when workers read them) so a worker
 * gets the whole data set without a copy. A window may be preceded by warm-up bars: the strategy
 * sees them as history (hedge, z and gate updated, nothing decided), exactly as the live engine
 * warms up at start-up, so a test window does not lose its first `lookback` bars.
 */
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { createStrategy } from '../strategies/registry.ts';
import type { PairBar } from '../strategies/types.ts';
import { explainParams } from './diagnostics.ts';
import type { Metrics } from './metrics.ts';
import { runBacktest } from './runner.ts';

export const PAIR_FIELDS = ['time', 'yOpen', 'yHigh', 'yLow', 'yClose', 'yVolume', 'xOpen', 'xHigh', 'xLow', 'xClose', 'xVolume'] as const;
export type PairColumns = Record<(typeof PAIR_FIELDS)[number], Float64Array>;

export function pairColumns(bars: Iterable<PairBar>, n: number, shared = false): PairColumns {
  const make = () => (shared ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n));
  const c = Object.fromEntries(PAIR_FIELDS.map((f) => [f, make()])) as PairColumns;
  let i = 0;
  for (const b of bars) {
    if (i >= n) break;
    c.time[i] = b.time;
    c.yOpen[i] = b.y.open;
    c.yHigh[i] = b.y.high;
    c.yLow[i] = b.y.low;
    c.yClose[i] = b.y.close;
    c.yVolume[i] = b.y.volume;
    c.xOpen[i] = b.x.open;
    c.xHigh[i] = b.x.high;
    c.xLow[i] = b.x.low;
    c.xClose[i] = b.x.close;
    c.xVolume[i] = b.x.volume;
    i++;
  }
  return c;
}

export function* columnBars(c: PairColumns, from: number, to: number): Generator<PairBar> {
  for (let i = from; i < to; i++) {
    yield {
      time: c.time[i]!,
      y: { open: c.yOpen[i]!, high: c.yHigh[i]!, low: c.yLow[i]!, close: c.yClose[i]!, volume: c.yVolume[i]! },
      x: { open: c.xOpen[i]!, high: c.xHigh[i]!, low: c.xLow[i]!, close: c.xClose[i]!, volume: c.xVolume[i]! },
    };
  }
}

/** Bars [warmFrom, from) warm the strategy up; [from, to) are backtested. */
export interface Window {
  warmFrom: number;
  from: number;
  to: number;
}

export interface RunTask {
  id: number;
  params: CointegrationParams;
  window: Window;
  /** Keep the equity curve (walk-forward test windows). */
  keepEquity: boolean;
}

export interface RunSettings {
  slippageBps: number;
  startingCash: number;
}

export interface RunOutcome {
  id: number;
  metrics: Metrics;
  finalEquity: number;
  bars: number;
  hint: string | null;
  equity: Float64Array | null;
}

export function runWindow(c: PairColumns, task: RunTask, s: RunSettings): RunOutcome {
  const p = task.params;
  const { warmFrom, from, to } = task.window;
  const strategy = createStrategy(p as unknown as { type: string } & Record<string, unknown>);
  for (const bar of columnBars(c, warmFrom, from)) strategy.onBar(bar, { equity: s.startingCash, warmup: true });
  const r = runBacktest(columnBars(c, from, to), strategy, { legs: p.legs, bar: p.bar, slippageBps: s.slippageBps, startingCash: s.startingCash, explain: explainParams(p) });
  return { id: task.id, metrics: r.metrics, finalEquity: r.finalEquity, bars: r.bars, hint: r.diagnostics.hint, equity: task.keepEquity ? r.equity.equity.slice() : null };
}
