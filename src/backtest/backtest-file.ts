/**
 * A backtest of one strategy config over one bar file: load the two legs' bars, align them, run
 * the strategy through the runner, and (optionally) collect the report's series. Used by
 * `tandem backtest` and by tests.
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
import { runBacktest, type BacktestResult } from './runner.ts';

export interface BacktestFileOptions {
  config: StrategyConfig;
  dataFile: string;
  startingCash: number;
  /** Build the HTML report too. */
  report?: boolean;
  /** Show progress bars (default: when stderr is a TTY). */
  progress?: boolean;
}

export interface BacktestFileResult {
  result: BacktestResult;
  html: string | null;
  alignedBars: number;
  warnings: string[];
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
  const params = config.strategy as unknown as CointegrationParams;
  if (config.strategy.type !== 'cointegration') {
    throw new UserError(`${config.file}: the backtester runs pair strategies; strategy type '${config.strategy.type}' is not supported`);
  }
  const ySym = params.legs.y.symbol;
  const xSym = params.legs.x.symbol;
  const loadBar = new ProgressBar({ label: 'reading bars', total: 0, ...(progress !== undefined ? { enabled: progress } : {}) });
  const series = await loadBars(dataFile, {
    symbols: [ySym, xSym],
    onProgress: (done, total) => {
      loadBar.setTotal(total);
      loadBar.update(done);
    },
  });
  loadBar.finish();
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
}

export async function backtestFile(opts: BacktestFileOptions): Promise<BacktestFileResult> {
  const progressEnabled = opts.progress;
  const { params, y, x, n, warnings } = await loadPair(opts.config, opts.dataFile, progressEnabled);
  const ySym = params.legs.y.symbol;
  const xSym = params.legs.x.symbol;

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
  // The report's renderer (and the charting library it inlines) loads only when a report is asked for.
  const renderReport = collector ? (await import('./report/render.ts')).renderReport : null;
  const html = collector && renderReport
    ? renderReport(result, collector.series(), {
        title: `Backtest: ${opts.config.name}`,
        ySymbol: ySym,
        xSymbol: xSym,
        bar: params.bar,
        entryZ: params.entryZ,
        exitZ: params.exitZ,
        stopZ: params.stopZ,
        dataFile: opts.dataFile,
        secTypes: [params.legs.y.secType, params.legs.x.secType],
      })
    : null;
  return { result, html, alignedBars: n, warnings };
}
