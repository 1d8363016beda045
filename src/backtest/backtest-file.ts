/**
 * A backtest of strategy configs over one bar file: load the legs' bars, align each pair, run them
 * and (optionally) collect the report's series. Used by `tandem backtest` and by tests.
 *
 * Two paths: `live` (the default, and `tandem backtest`'s) drives the live trading node with the
 * engine's risk limits (live-backtest.ts), several strategies together on one account; `spec` runs
 * one strategy through the in-process runner under the strategy spec's rules alone (runner.ts,
 * also the engine of sweeps and walk-forward).
 */
import type { StrategyConfig } from '../config/strategy-file.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { createStrategy, strategyRequirements } from '../strategies/registry.ts';
import type { BarField, PairBar } from '../strategies/types.ts';
import { UserError } from '../util/errors.ts';
import { ProgressBar } from '../util/progress.ts';
import { alignBars, countAligned } from './align.ts';
import type { BarSeries } from './csv.ts';
import { loadBars } from './bar-files.ts';
import { explainParams } from './diagnostics.ts';
import { ReportCollector } from './report/collect.ts';
import type { ReportMeta } from './report/render.ts';
import { runBacktest, type BacktestResult } from './runner.ts';
import type { RiskLimits } from '../engine/risk.ts';
import type { NodeStrategyConfig } from '../config/load.ts';
import type { LiveBacktestResult, runLiveBacktest as RunLiveBacktest } from './live-backtest.ts';
import type { BarStreamOptions } from './bar-stream.ts';

/** The engine config's default risk limits (configs/engine/Engine.yaml), for backtests given none. */
export const DEFAULT_BACKTEST_RISK: RiskLimits = { maxGrossNotional: 100_000, maxPositionNotional: 60_000, maxDailyLoss: 2_000, allowOutsideRth: false, maxBarAgeBars: 1 };

export interface BacktestFileOptions {
  config: StrategyConfig;
  dataFile: string;
  startingCash: number;
  /** Build the HTML report too. */
  report?: boolean;
  /** Show progress bars (default: when stderr is a TTY). */
  progress?: boolean;
  /** `live` (default): through the live trading node and its rules; `spec`: the in-process runner, spec rules only. */
  rules?: 'live' | 'spec';
  /** Risk limits of the live path (default DEFAULT_BACKTEST_RISK). */
  risk?: RiskLimits;
  /**
   * Read the file while the backtest runs (default: a file of STREAM_MIN_BYTES or more). Tests
   * force it with options: small reads and several parts, so that the backtest catches up often.
   */
  stream?: StreamChoice;
}

export interface BacktestFileResult {
  result: BacktestResult;
  html: string | null;
  alignedBars: number;
  warnings: string[];
  /** The live path's whole run: per strategy, refusals, stop reason (null on the spec path). */
  live: LiveBacktestResult | null;
}

/** A pair strategy's legs checked against the file: its parameters, its aligned bars, warnings about them. */
export interface CheckedPair {
  params: CointegrationParams;
  /** Aligned bars. */
  n: number;
  warnings: string[];
}

export interface LoadedPair extends CheckedPair {
  y: BarSeries;
  x: BarSeries;
}

/** Whether to read the file while the backtest runs: see BacktestFileOptions.stream. */
export type StreamChoice = boolean | BarStreamOptions;

/** The two legs of a pair strategy from a bar file, checked: both present, at least 2 aligned bars. */
export async function loadPair(config: StrategyConfig, dataFile: string, progress?: boolean): Promise<LoadedPair> {
  return (await loadPairs([config], dataFile, progress))[0]!;
}

/**
 * The legs of several pair strategies from one bar file, read once for all of them (a portfolio
 * backtest of an engine config reads its data file a single time, whatever the number of strategies).
 */
export async function loadPairs(configs: StrategyConfig[], dataFile: string, progress?: boolean): Promise<LoadedPair[]> {
  const loadBar = new ProgressBar({ label: 'reading bars', total: 0, ...(progress !== undefined ? { enabled: progress } : {}) });
  const series = await loadBars(dataFile, {
    symbols: legSymbols(configs),
    onProgress: (done, total) => {
      loadBar.setTotal(total);
      loadBar.update(done);
    },
  });
  loadBar.finish();
  return checkPairs(configs, series, dataFile);
}

/** Every leg's symbol of the configs (each once), after checking that they are pair strategies. */
function legSymbols(configs: StrategyConfig[]): string[] {
  for (const config of configs) {
    if (config.strategy.type !== 'cointegration') {
      throw new UserError(`${config.file}: the backtester runs pair strategies; strategy type '${config.strategy.type}' is not supported`);
    }
  }
  const legsOf = (config: StrategyConfig) => (config.strategy as unknown as CointegrationParams).legs;
  return [...new Set(configs.flatMap((c) => [legsOf(c).y.symbol, legsOf(c).x.symbol]))];
}

/** The bar fields a run of the configs reads: open and close (its fills and marks), and those each strategy declares. */
function barFieldsOf(configs: StrategyConfig[]): BarField[] {
  const fields = new Set<BarField>(['open', 'close']);
  for (const config of configs) for (const f of strategyRequirements(config.strategy).barFields) fields.add(f);
  return [...fields];
}

/** Each config's legs among the file's series, checked: both present, at least 2 aligned bars. */
function checkPairs(configs: StrategyConfig[], series: Map<string, BarSeries>, dataFile: string): LoadedPair[] {
  return configs.map((config) => {
    const { legs } = config.strategy as unknown as CointegrationParams;
    const y = series.get(legs.y.symbol);
    const x = series.get(legs.x.symbol);
    return { ...checkPair(config, dataFile, (sym) => series.has(sym), () => countAligned(y!, x!)), y: y!, x: x! };
  });
}

/** One config's legs checked: both among the file's symbols (`has`), at least 2 aligned bars (`aligned` counts them). */
function checkPair(config: StrategyConfig, dataFile: string, has: (symbol: string) => boolean, aligned: () => number): CheckedPair {
  const params = config.strategy as unknown as CointegrationParams;
  const ySym = params.legs.y.symbol;
  const xSym = params.legs.x.symbol;
  for (const [sym, leg] of [[ySym, 'y'], [xSym, 'x']] as const) {
    if (!has(sym)) throw new UserError(`${dataFile}: no bars for ${sym} (leg ${leg} of ${config.file}); the file must hold rows with symbol ${sym}`);
  }
  const n = aligned();
  if (n < 2) {
    throw new UserError(`${dataFile}: ${ySym} and ${xSym} share ${n} bar time(s); a backtest needs at least 2 aligned bars (bars are matched on exactly equal times)`);
  }
  const warnings: string[] = [];
  if (n < params.lookback + 1) warnings.push(`only ${n} aligned bars for lookback ${params.lookback}: the strategy never trades`);
  return { params, n, warnings };
}

/**
 * A run over each config's aligned bars: `bars(k)` gives config k's, and the run calls `tick` with
 * the bars it has done now and then (for the progress bar). A run keeps no bar older than the one
 * before the next (RUN_BARS_KEPT): streamed bars are objects filled again.
 */
type BarsRun<T> = (bars: (k: number) => Iterable<PairBar>, tick: (doneBars: number) => void) => T | Promise<T>;

/**
 * Runs `run` over the configs' aligned bars, and returns its outcome with the pairs as loadPairs
 * checks them. A file of STREAM_MIN_BYTES or more (CSV or Parquet) is read by other threads while
 * the run consumes its bars (bar-stream.ts): the run then sees exactly the bars it would after
 * reading, or is discarded and made again on the finished bars when the file's rows are out of
 * time order. The file's own errors (a malformed row, a missing leg, too few aligned bars) come
 * first, as they do when the file is read before the run.
 */
async function runOnBars<T>(configs: StrategyConfig[], dataFile: string, progress: boolean | undefined, stream: StreamChoice | undefined, run: BarsRun<T>, busyRun = false, prepare?: () => Promise<void>): Promise<{ out: T; pairs: CheckedPair[] }> {
  const symbols = legSymbols(configs);
  const enabled = progress !== undefined ? { enabled: progress } : {};
  const afterReading = async (pairs: LoadedPair[]): Promise<T> => {
    const bar = new ProgressBar({ label: 'backtest', total: pairs.reduce((s, p) => s + p.n, 0), ...enabled });
    try {
      return await run((k) => alignBars(pairs[k]!.y, pairs[k]!.x), (done) => bar.update(done));
    } finally {
      bar.finish();
    }
  };
  const { BarStream, BarStreamRestart } = await import('./bar-stream.ts');
  const barStream = (await streamable(dataFile, stream))
    ? await BarStream.start(dataFile, symbols, { busyRun, fields: barFieldsOf(configs), ...(typeof stream === 'object' ? stream : {}) }).catch((err: unknown) => {
      // No address space for the shared columns (many symbols of a huge file): read the file first.
      if (err instanceof RangeError) return null;
      throw err;
    })
    : null;
  if (!barStream) {
    await prepare?.();
    const pairs = await loadPairs(configs, dataFile, progress);
    return { out: await afterReading(pairs), pairs };
  }
  // The run's own setup (`prepare`) goes on while the reading threads start and read their first bars.
  try {
    await Promise.all([barStream.ready(), prepare?.()]);
  } catch (err) {
    await barStream.close();
    throw err;
  }
  // While reading, the bar counts are unknown: the bar shows the file's bytes read.
  const bar = new ProgressBar({ label: 'backtest', total: barStream.size, ...enabled });
  const counters = configs.map(() => ({ n: 0 }));
  const sources = configs.map((config, k) => {
    const { legs } = config.strategy as unknown as CointegrationParams;
    return barStream.aligned(legs.y.symbol, legs.x.symbol, counters[k], RUN_BARS_KEPT);
  });
  let out: { value: T } | null = null;
  let restarted = false;
  let runError: unknown = null;
  try {
    out = { value: await run((k) => sources[k]!, () => bar.update(barStream.bytesRead)) };
  } catch (err) {
    if (err instanceof BarStreamRestart) restarted = true;
    else runError = err;
  } finally {
    bar.finish();
  }
  let finished;
  try {
    finished = await barStream.finish();
  } finally {
    await barStream.close();
  }
  if (restarted || !finished.sorted) {
    // The run did not see the loaded file's bars (or saw them only in part, if it stopped early): again, on them.
    const pairs = checkPairs(configs, await finished.series(), dataFile);
    return { out: await afterReading(pairs), pairs };
  }
  const pairs = configs.map((config, k) => checkPair(config, dataFile, (sym) => finished.has(sym), () => {
    // The bars the run did not pull (it stopped early), counted on.
    while (!sources[k]!.next().done);
    return counters[k]!.n;
  }));
  if (runError !== null) throw runError;
  return { out: out!.value, pairs };
}

/**
 * The bar objects a streamed run's iterator fills in turn (BarStream.aligned's `reuse`): a bar's
 * object is filled again this many bars later. Both runs look one bar ahead (orders fill at the next
 * bar's open) and keep nothing older than the bar they are at: the spec runner keeps the current bar
 * for the final mark, the live node's broker the next bar's legs until the one after.
 */
const RUN_BARS_KEPT = 3;

/** Whether to read the file while the run goes (`stream` forces it either way; else a large file, CSV or Parquet). */
async function streamable(dataFile: string, stream: StreamChoice | undefined): Promise<boolean> {
  if (stream === false) return false;
  if (stream !== undefined) return true;
  const { largeBarFile } = await import('./bar-stream.ts');
  return largeBarFile(dataFile);
}

export async function backtestFile(opts: BacktestFileOptions): Promise<BacktestFileResult> {
  if (opts.rules !== 'spec') {
    return backtestNodeFile({ configs: [opts.config], dataFile: opts.dataFile, startingCash: opts.startingCash, risk: opts.risk ?? DEFAULT_BACKTEST_RISK, ...(opts.report !== undefined ? { report: opts.report } : {}), ...(opts.progress !== undefined ? { progress: opts.progress } : {}), ...(opts.stream !== undefined ? { stream: opts.stream } : {}) });
  }
  const params = opts.config.strategy as unknown as CointegrationParams;
  const { out, pairs } = await runOnBars([opts.config], opts.dataFile, opts.progress, opts.stream, (bars, tick) => {
    const strategy = createStrategy(params as unknown as { type: string } & Record<string, unknown>);
    const collector = opts.report ? new ReportCollector() : null;
    const result = runBacktest(
      bars(0),
      strategy,
      { legs: params.legs, bar: params.bar, slippageBps: opts.config.costs.slippageBps, startingCash: opts.startingCash, explain: explainParams(params) },
      {
        onBar: (e) => {
          collector?.onBar(e);
          if ((e.index & 1023) === 0) tick(e.index);
        },
      },
    );
    return { result, collector };
  });
  const { result, collector } = out;
  const html = collector ? await render(result, collector, opts.config, params, opts.dataFile) : null;
  return { result, html, alignedBars: pairs[0]!.n, warnings: pairs[0]!.warnings, live: null };
}

export interface BacktestNodeOptions {
  /** One strategy config, or the strategies of an engine config (run together on one account). */
  configs: NodeStrategyConfig[];
  dataFile: string;
  startingCash: number;
  risk: RiskLimits;
  report?: boolean;
  progress?: boolean;
  /** As BacktestFileOptions.stream. */
  stream?: StreamChoice;
}

/** The live path: every strategy of the configs on the live trading node, bars from one file. */
export async function backtestNodeFile(opts: BacktestNodeOptions): Promise<BacktestFileResult> {
  // Loaded here, while the file's reading threads start: the live node's modules (engine, brokers,
  // journal, logger) are not needed by the spec path.
  let runLiveBacktest!: typeof RunLiveBacktest;
  const load = async (): Promise<void> => {
    ({ runLiveBacktest } = await import('./live-backtest.ts'));
  };
  const { out, pairs: loaded } = await runOnBars(opts.configs, opts.dataFile, opts.progress, opts.stream, async (bars, tick) => {
    // One collector per strategy id (a strategy's name): its own bars, equity, z-score and gate.
    const collectors = new Map<string, ReportCollector>();
    const collectorOf = (id: string): ReportCollector => {
      let c = collectors.get(id);
      if (!c) collectors.set(id, (c = new ReportCollector()));
      return c;
    };
    let done = 0;
    const live = await runLiveBacktest({
      strategies: opts.configs.map((config, k) => ({
        entry: { ...(config.file ? { file: config.file } : {}), name: config.name, strategy: config.strategy, capitalShare: config.capitalShare, allowSharedContracts: config.allowSharedContracts },
        slippageBps: config.costs.slippageBps,
        bars: bars(k),
      })),
      startingCash: opts.startingCash,
      risk: opts.risk,
      onBar: (id, e) => {
        if (opts.report) collectorOf(id).onBar(e);
        if ((++done & 1023) === 0) tick(done);
      },
    });
    return { live, collectorOf };
  }, true, load);
  const { live, collectorOf } = out;
  const pairs = opts.configs.map((config, i) => ({ config, ...loaded[i]! }));
  const single = pairs.length === 1 ? pairs[0]! : null;
  const result = live.account;
  let html: string | null = null;
  if (opts.report && single) html = await render(result, collectorOf(live.strategies[0]!.id), single.config, single.params, opts.dataFile);
  else if (opts.report) html = await renderPortfolio(live, pairs, collectorOf, opts.dataFile);
  const warnings = pairs.flatMap((p) => p.warnings);
  return { result, html, alignedBars: single ? single.n : result.bars, warnings, live };
}

async function render(result: BacktestResult, collector: ReportCollector, config: StrategyConfig, params: CointegrationParams, dataFile: string): Promise<string> {
  // The report's renderer (and the charting library it inlines) loads only when a report is asked for.
  const { renderReport } = await import('./report/render.ts');
  return renderReport(result, collector.series(), { ...reportMeta(params), title: `Backtest: ${config.name}`, dataFile });
}

/** The report of a portfolio backtest: the account, then each strategy as its own report draws it. */
async function renderPortfolio(live: LiveBacktestResult, pairs: { params: CointegrationParams }[], collectorOf: (id: string) => ReportCollector, dataFile: string): Promise<string> {
  const { renderPortfolioReport } = await import('./report/render.ts');
  return renderPortfolioReport({
    title: `Portfolio backtest: ${live.strategies.map((s) => s.id).join(', ')}`,
    dataFile,
    account: live.account,
    stopReason: live.stopReason,
    refusals: live.refusals,
    // The run's strategies come back in config order, as the pairs were given.
    strategies: live.strategies.map((s, i) => ({ result: s.result, series: collectorOf(s.id).series(), meta: { ...reportMeta(pairs[i]!.params), title: s.id } })),
  });
}

function reportMeta(params: CointegrationParams): Omit<ReportMeta, 'title'> {
  return {
    ySymbol: params.legs.y.symbol,
    xSymbol: params.legs.x.symbol,
    bar: params.bar,
    entryZ: params.entryZ,
    exitZ: params.exitZ,
    stopZ: params.stopZ,
    secTypes: [params.legs.y.secType, params.legs.x.secType],
  };
}
