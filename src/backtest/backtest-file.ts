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
import { createStrategy } from '../strategies/registry.ts';
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
import type { LiveBacktestResult } from './live-backtest.ts';

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
}

export interface BacktestFileResult {
  result: BacktestResult;
  html: string | null;
  alignedBars: number;
  warnings: string[];
  /** The live path's whole run: per strategy, refusals, stop reason (null on the spec path). */
  live: LiveBacktestResult | null;
}

export interface LoadedPair {
  params: CointegrationParams;
  y: BarSeries;
  x: BarSeries;
  /** Aligned bars. */
  n: number;
  warnings: string[];
}

/** The two legs of a pair strategy from a bar file, checked: both present, at least 2 aligned bars. */
export async function loadPair(config: StrategyConfig, dataFile: string, progress?: boolean): Promise<LoadedPair> {
  return (await loadPairs([config], dataFile, progress))[0]!;
}

/**
 * The legs of several pair strategies from one bar file, read once for all of them (a portfolio
 * backtest of an engine config reads its data file a single time, whatever the number of strategies).
 */
export async function loadPairs(configs: StrategyConfig[], dataFile: string, progress?: boolean): Promise<LoadedPair[]> {
  for (const config of configs) {
    if (config.strategy.type !== 'cointegration') {
      throw new UserError(`${config.file}: the backtester runs pair strategies; strategy type '${config.strategy.type}' is not supported`);
    }
  }
  const legsOf = (config: StrategyConfig) => (config.strategy as unknown as CointegrationParams).legs;
  const symbols = [...new Set(configs.flatMap((c) => [legsOf(c).y.symbol, legsOf(c).x.symbol]))];
  const loadBar = new ProgressBar({ label: 'reading bars', total: 0, ...(progress !== undefined ? { enabled: progress } : {}) });
  const series = await loadBars(dataFile, {
    symbols,
    onProgress: (done, total) => {
      loadBar.setTotal(total);
      loadBar.update(done);
    },
  });
  loadBar.finish();
  return configs.map((config) => {
    const params = config.strategy as unknown as CointegrationParams;
    const ySym = params.legs.y.symbol;
    const xSym = params.legs.x.symbol;
    const y = series.get(ySym);
    const x = series.get(xSym);
    for (const [sym, s, leg] of [[ySym, y, 'y'], [xSym, x, 'x']] as const) {
      if (!s) throw new UserError(`${dataFile}: no bars for ${sym} (leg ${leg} of ${config.file}); the file must hold rows with symbol ${sym}`);
    }
    const n = countAligned(y!, x!);
    if (n < 2) {
      throw new UserError(`${dataFile}: ${ySym} and ${xSym} share ${n} bar time(s); a backtest needs at least 2 aligned bars (bars are matched on exactly equal times)`);
    }
    const warnings: string[] = [];
    if (n < params.lookback + 1) warnings.push(`only ${n} aligned bars for lookback ${params.lookback}: the strategy never trades`);
    return { params, y: y!, x: x!, n, warnings };
  });
}

export async function backtestFile(opts: BacktestFileOptions): Promise<BacktestFileResult> {
  if (opts.rules !== 'spec') {
    return backtestNodeFile({ configs: [opts.config], dataFile: opts.dataFile, startingCash: opts.startingCash, risk: opts.risk ?? DEFAULT_BACKTEST_RISK, ...(opts.report !== undefined ? { report: opts.report } : {}), ...(opts.progress !== undefined ? { progress: opts.progress } : {}) });
  }
  const progressEnabled = opts.progress;
  const { params, y, x, n, warnings } = await loadPair(opts.config, opts.dataFile, progressEnabled);
  const strategy = createStrategy(params as unknown as { type: string } & Record<string, unknown>);
  const collector = opts.report ? new ReportCollector() : null;
  const bar = new ProgressBar({ label: 'backtest', total: n, ...(progressEnabled !== undefined ? { enabled: progressEnabled } : {}) });
  const result = runBacktest(
    alignBars(y, x),
    strategy,
    { legs: params.legs, bar: params.bar, slippageBps: opts.config.costs.slippageBps, startingCash: opts.startingCash, explain: explainParams(params) },
    {
      onBar: (e) => {
        collector?.onBar(e);
        if ((e.index & 1023) === 0) bar.update(e.index);
      },
    },
  );
  bar.finish();
  const html = collector ? await render(result, collector, opts.config, params, opts.dataFile) : null;
  return { result, html, alignedBars: n, warnings, live: null };
}

export interface BacktestNodeOptions {
  /** One strategy config, or the strategies of an engine config (run together on one account). */
  configs: NodeStrategyConfig[];
  dataFile: string;
  startingCash: number;
  risk: RiskLimits;
  report?: boolean;
  progress?: boolean;
}

/** The live path: every strategy of the configs on the live trading node, bars from one file. */
export async function backtestNodeFile(opts: BacktestNodeOptions): Promise<BacktestFileResult> {
  // Loaded here: the live node's modules (engine, brokers, journal) are not needed by the spec path.
  const { runLiveBacktest } = await import('./live-backtest.ts');
  const loaded = await loadPairs(opts.configs, opts.dataFile, opts.progress);
  const pairs = opts.configs.map((config, i) => ({ config, ...loaded[i]! }));
  const single = pairs.length === 1 ? pairs[0]! : null;
  // One collector per strategy id (a strategy's name): its own bars, equity, z-score and gate.
  const collectors = new Map<string, ReportCollector>();
  const collectorOf = (id: string): ReportCollector => {
    let c = collectors.get(id);
    if (!c) collectors.set(id, (c = new ReportCollector()));
    return c;
  };
  const total = pairs.reduce((s, p) => s + p.n, 0);
  const bar = new ProgressBar({ label: 'backtest', total, ...(opts.progress !== undefined ? { enabled: opts.progress } : {}) });
  let done = 0;
  const live = await runLiveBacktest({
    strategies: pairs.map((p) => ({
      entry: { ...(p.config.file ? { file: p.config.file } : {}), name: p.config.name, strategy: p.config.strategy, capitalShare: p.config.capitalShare, allowSharedContracts: p.config.allowSharedContracts },
      slippageBps: p.config.costs.slippageBps,
      bars: alignBars(p.y, p.x),
    })),
    startingCash: opts.startingCash,
    risk: opts.risk,
    onBar: (id, e) => {
      if (opts.report) collectorOf(id).onBar(e);
      if ((++done & 1023) === 0) bar.update(done);
    },
  });
  bar.finish();
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
