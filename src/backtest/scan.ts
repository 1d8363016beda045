/**
 * The pair scan (`tandem scan`): every pair of a bar file's symbols, on their aligned log closes
 * (the last `lookback` aligned bars, or all), gets Engle–Granger both ways, Johansen, the hedge
 * ratio, the spread's half-life and the correlation of log returns; pairs are then ranked (see
 * `rankPairs`). Large universes are spread over worker threads.
 */
import { availableParallelism } from 'node:os';
import { engleGranger, halfLife, johansen } from '../stats/index.ts';
import { ProgressBar } from '../util/progress.ts';
import type { BarSeries } from './csv.ts';
import { startWorker } from '../util/worker-entry.ts';

/** What a pair analysis needs of a symbol: its times and closes, ascending. */
export interface CloseSeries {
  symbol: string;
  time: Float64Array;
  close: Float64Array;
}

export interface PairResult {
  /** The dependent leg of the better Engle–Granger direction, and the other. */
  y: string;
  x: string;
  bars: number;
  /** Engle–Granger p-value of the better direction (the smaller of the two). */
  pValue: number;
  egYonX: { stat: number; pValue: number };
  egXonY: { stat: number; pValue: number };
  johansen: { trace: number; crit95: number; cointegrated95: boolean };
  /** y ≈ alpha + beta·x on log closes (the better direction). */
  beta: number;
  alpha: number;
  /** Half-life in bars of the spread y − alpha − beta·x (Infinity: not mean-reverting). */
  halfLife: number;
  /** Correlation of one-bar log returns. */
  correlation: number;
}

export interface PairSkipped {
  a: string;
  b: string;
  bars: number;
  reason: string;
}

export type PairOutcome = { ok: true; result: PairResult } | { ok: false; skipped: PairSkipped };

/** Pairs with fewer aligned bars are skipped: the tests say nothing useful on so little data. */
export const MIN_SCAN_BARS = 30;

function alignedLogCloses(a: CloseSeries, b: CloseSeries, lookback: number): { pa: Float64Array; pb: Float64Array } {
  const ta: number[] = [];
  const tb: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.time.length && j < b.time.length) {
    const x = a.time[i]!;
    const y = b.time[j]!;
    if (x === y) {
      ta.push(i++);
      tb.push(j++);
    } else if (x < y) i++;
    else j++;
  }
  const from = lookback > 0 ? Math.max(0, ta.length - lookback) : 0;
  const n = ta.length - from;
  const pa = new Float64Array(n);
  const pb = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    pa[k] = Math.log(a.close[ta[from + k]!]!);
    pb[k] = Math.log(b.close[tb[from + k]!]!);
  }
  return { pa, pb };
}

function correlationOfReturns(pa: Float64Array, pb: Float64Array): number {
  const n = pa.length - 1;
  let ma = 0;
  let mb = 0;
  for (let t = 1; t <= n; t++) {
    ma += pa[t]! - pa[t - 1]!;
    mb += pb[t]! - pb[t - 1]!;
  }
  ma /= n;
  mb /= n;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let t = 1; t <= n; t++) {
    const da = pa[t]! - pa[t - 1]! - ma;
    const db = pb[t]! - pb[t - 1]! - mb;
    saa += da * da;
    sbb += db * db;
    sab += da * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Everything the scan reports for one pair. */
export function analysePair(a: CloseSeries, b: CloseSeries, lookback: number): PairOutcome {
  const { pa, pb } = alignedLogCloses(a, b, lookback);
  const n = pa.length;
  const skip = (reason: string): PairOutcome => ({ ok: false, skipped: { a: a.symbol, b: b.symbol, bars: n, reason } });
  if (n < MIN_SCAN_BARS) return skip(`${n} aligned bars (need ${MIN_SCAN_BARS})`);
  try {
    const ab = engleGranger(pa, pb, { trend: 'c', autoLag: 'aic' });
    const ba = engleGranger(pb, pa, { trend: 'c', autoLag: 'aic' });
    const aDependent = ab.pValue <= ba.pValue;
    const best = aDependent ? ab : ba;
    const [py, px] = aDependent ? [pa, pb] : [pb, pa];
    const spread = new Float64Array(n);
    for (let t = 0; t < n; t++) spread[t] = py[t]! - best.alpha - best.beta * px[t]!;
    const rows: number[][] = [];
    for (let t = 0; t < n; t++) rows.push([pa[t]!, pb[t]!]);
    const jo = johansen(rows, 0, 1);
    const trace = jo.traceStat[0]!;
    const crit95 = jo.traceCrit[0]![1]!;
    return {
      ok: true,
      result: {
        y: aDependent ? a.symbol : b.symbol,
        x: aDependent ? b.symbol : a.symbol,
        bars: n,
        pValue: best.pValue,
        egYonX: { stat: best.stat, pValue: best.pValue },
        egXonY: aDependent ? { stat: ba.stat, pValue: ba.pValue } : { stat: ab.stat, pValue: ab.pValue },
        johansen: { trace, crit95, cointegrated95: trace > crit95 },
        beta: best.beta,
        alpha: best.alpha,
        halfLife: halfLife(spread),
        correlation: correlationOfReturns(pa, pb),
      },
    };
  } catch (err) {
    return skip(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Ranking: the smaller Engle–Granger p-value first (the evidence the strategy's gate uses); ties
 * (e.g. p-values that both round to 0) broken by the Johansen trace statistic over its 95%
 * critical value, larger first; then by the shorter half-life (faster mean reversion trades more);
 * then by the names.
 */
export function rankPairs(results: PairResult[]): PairResult[] {
  const hl = (r: PairResult) => (Number.isFinite(r.halfLife) ? r.halfLife : Number.MAX_VALUE);
  return [...results].sort(
    (p, q) =>
      p.pValue - q.pValue ||
      q.johansen.trace / q.johansen.crit95 - p.johansen.trace / p.johansen.crit95 ||
      hl(p) - hl(q) ||
      // Last, by names: the order never depends on which worker finished first.
      (p.y + ' ' + p.x < q.y + ' ' + q.x ? -1 : 1),
  );
}

export interface ScanOptions {
  /** Use the last N aligned bars of each pair; 0 = all. */
  lookback: number;
  /** Worker threads; 0 = in this thread; default: one per core when there are enough pairs. */
  workers?: number;
  progress?: boolean;
}

export interface ScanResult {
  symbols: string[];
  lookback: number;
  pairs: PairResult[];
  skipped: PairSkipped[];
  workers: number;
}

/** The worker's module (started through util/worker-entry.ts, from dist/ or the sources). */
const WORKER_MODULE = new URL('./scan-worker.ts', import.meta.url);

/**
 * Below this much work (pairs × bars) the workers' start-up (each loads the statistics code, tens
 * of milliseconds on a busy 2-core machine) costs more than it saves: 28 pairs of 1,000 bars take
 * about 0.2 s in one thread.
 */
const WORKER_THRESHOLD = 500_000;

export function pairIndexes(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

/** Copies closes into SharedArrayBuffers so every worker reads the same memory. */
function shared(series: CloseSeries[]): CloseSeries[] {
  const copy = (a: Float64Array) => {
    const s = new Float64Array(new SharedArrayBuffer(a.length * 8));
    s.set(a);
    return s;
  };
  return series.map((s) => ({ symbol: s.symbol, time: copy(s.time), close: copy(s.close) }));
}

export async function scanSeries(all: Map<string, BarSeries> | CloseSeries[], opts: ScanOptions): Promise<ScanResult> {
  const series: CloseSeries[] = (Array.isArray(all) ? all : [...all.values()]).map((s) => ({ symbol: s.symbol, time: s.time, close: s.close }));
  series.sort((p, q) => (p.symbol < q.symbol ? -1 : p.symbol > q.symbol ? 1 : 0));
  const pairs = pairIndexes(series.length);
  const bar = new ProgressBar({ label: 'scan', total: pairs.length, ...(opts.progress !== undefined ? { enabled: opts.progress } : {}) });
  const outcomes: PairOutcome[] = [];
  const work = pairs.length * Math.max(0, ...series.map((s) => (opts.lookback > 0 ? Math.min(opts.lookback, s.time.length) : s.time.length)));
  const workers = opts.workers ?? (work >= WORKER_THRESHOLD && pairs.length > 1 ? Math.min(availableParallelism(), Math.ceil(pairs.length / 8)) : 0);

  if (workers <= 0) {
    for (const [i, j] of pairs) {
      outcomes.push(analysePair(series[i]!, series[j]!, opts.lookback));
      bar.tick();
    }
  } else {
    const data = shared(series);
    const slices: [number, number][][] = Array.from({ length: workers }, () => []);
    pairs.forEach((p, k) => slices[k % workers]!.push(p));
    await Promise.all(
      slices.map(
        (slice) =>
          new Promise<void>((resolve, reject) => {
            if (slice.length === 0) return resolve();
            const w = startWorker(WORKER_MODULE, { series: data, pairs: slice, lookback: opts.lookback });
            w.on('message', (m: PairOutcome) => {
              outcomes.push(m);
              bar.tick();
            });
            w.on('error', reject);
            w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`scan worker exited with code ${code}`))));
          }),
      ),
    );
  }
  bar.finish();
  const results: PairResult[] = [];
  const skipped: PairSkipped[] = [];
  for (const o of outcomes) {
    if (o.ok) results.push(o.result);
    else skipped.push(o.skipped);
  }
  skipped.sort((p, q) => (p.a + ' ' + p.b < q.a + ' ' + q.b ? -1 : 1));
  return { symbols: series.map((s) => s.symbol), lookback: opts.lookback, pairs: rankPairs(results), skipped, workers };
}
