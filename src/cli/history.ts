/**
 * `tandem history --config STRATEGY.yaml --start DATE --end DATE [--out FILE] [--gateway URL]`:
 * downloads both legs' bars from the Client Portal Gateway into a bar file that `tandem backtest
 * --data` reads: Parquet by default (the history cache, `<dataDir>/history/`), CSV when --out ends
 * in .csv. `tandem backtest --from-gateway` does the same, then backtests the file; it reuses a
 * cached download of the same pair, bar and range instead of asking the gateway again.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { TandemConfig } from '../config/load.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { configOption, gatewayUrl } from './options.ts';
import { writeOutput } from './output-file.ts';

export interface HistoryCliOptions {
  config: string;
  start: string;
  end: string;
  out?: string;
  gateway?: string;
  /** Reuse the cached file of the same pair, bar and range if there is one (backtest --from-gateway). */
  useCache?: boolean;
}

/** The one strategy of a config, as a pair strategy. */
export function pairStrategy(cfg: TandemConfig, configPath: string): { name: string; params: CointegrationParams } {
  if (cfg.strategies.length !== 1) {
    throw new UserError(`${configPath} names ${cfg.strategies.length} strategies; pass one strategy file (e.g. configs/strategies/...yaml)`);
  }
  const s = cfg.strategies[0]!;
  if (s.strategy.type !== 'cointegration') throw new UserError(`${configPath}: strategy type '${s.strategy.type}' is not a pair strategy`);
  return { name: s.name, params: s.strategy as unknown as CointegrationParams };
}

/**
 * Downloads the pair's bars over the range into a bar file; returns its path and bar counts
 * (`cached`: the file was already there and nothing was downloaded).
 * Default file: `<dataDir>/history/<Y>_<X>_<bar>_<start>_<end>.parquet`.
 */
export async function downloadToFile(cfg: TandemConfig, configPath: string, opts: HistoryCliOptions): Promise<{ file: string; counts: string; cached: boolean }> {
  const { downloadPairHistory, parseRange } = await import('../backtest/history.ts');
  const { loadBars, writeBars } = await import('../backtest/bar-files.ts');
  const { IbkrClient } = await import('../ibkr/client.ts');
  const { ProgressBar } = await import('../util/progress.ts');
  const { params } = pairStrategy(cfg, configPath);
  const { from, to } = parseRange(opts.start, opts.end);
  const day = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file =
    opts.out ?? join(cfg.engine.dataDir, 'history', `${params.legs.y.symbol}_${params.legs.x.symbol}_${params.bar}_${day(from)}_${day(to)}.parquet`);
  if (opts.useCache && opts.out === undefined && existsSync(file)) {
    const series = await loadBars(file, { symbols: [params.legs.y.symbol, params.legs.x.symbol] });
    return { file, counts: [...series.values()].map((s) => `${s.symbol} ${s.length}`).join(', '), cached: true };
  }
  const g = cfg.engine.gateway;
  const client = new IbkrClient({
    baseUrl: opts.gateway ?? g.url,
    ...(g.tls.caFile || g.tls.fingerprint ? { tls: { caFile: g.tls.caFile, fingerprint: g.tls.fingerprint } } : {}),
    timeoutMs: g.timeoutMs,
    maxRequestsPerSecond: cfg.engine.pacing.maxRequestsPerSecond,
    dataDir: cfg.engine.dataDir,
  });
  try {
    await client.connect();
    // On a terminal: a bar of history pages (the gateway sends at most 1000 bars a page).
    const progress = new ProgressBar({ label: 'downloading bars', total: 0 });
    const series = await downloadPairHistory(client, {
      legs: params.legs, bar: params.bar, from, to,
      onProgress: (done, total) => {
        progress.setTotal(total);
        progress.update(done);
      },
    });
    progress.finish();
    await writeOutput(file, async () => {
      mkdirSync(dirname(file), { recursive: true });
      await writeBars(file, series);
    });
    return { file, counts: series.map((s) => `${s.symbol} ${s.length}`).join(', '), cached: false };
  } finally {
    await client.close();
  }
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description("download a strategy's two legs' bars from the gateway into a bar file (Parquet, or CSV with --out x.csv)")
    .addOption(configOption().makeOptionMandatory())
    .requiredOption('--start <date>', 'first bar time, ISO 8601 (e.g. 2024-01-02) or epoch ms')
    .requiredOption('--end <date>', 'end, exclusive (a date alone includes that whole day)')
    .option('--out <file>', 'output file, .parquet or .csv (default: <dataDir>/history/<Y>_<X>_<bar>_<start>_<end>.parquet)')
    .option('--gateway <url>', 'Client Portal Gateway URL (default: gateway.url of the engine config)', gatewayUrl)
    .action(async (opts: HistoryCliOptions) => {
      const { loadConfig } = await import('../config/load.ts');
      const cfg = loadConfig(opts.config);
      const { file, counts } = await downloadToFile(cfg, opts.config, opts);
      process.stdout.write(`bars (${counts}) written to ${file}\n`);
    });
}
