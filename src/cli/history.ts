/**
 * `tandem history --config STRATEGY.yaml --start DATE --end DATE [--out FILE] [--gateway URL]`:
 * downloads both legs' bars from the Client Portal Gateway into a bar file that `tandem backtest
 * --data` reads: Parquet by default (the history cache, `<dataDir>/history/`), CSV when --out ends
 * in .csv. `tandem backtest --from-gateway` does the same, then backtests the file; it reuses a
 * cached download of the same pair, bar and range instead of asking the gateway again.
 *
 * `tandem history --symbols ETHA,ETHV,SPY --bar 5min --start DATE --end DATE --out universe.csv`
 * downloads a whole universe for `tandem scan` (paced, cached per symbol, with progress); the
 * gateway settings come from --config, else configs/engine/Engine.yaml.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { TandemConfig } from '../config/load.ts';
import type { IbkrClient } from '../ibkr/client.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';
import { configOption, gatewayUrl } from './options.ts';
import { writeOutput } from './output-file.ts';

export interface HistoryCliOptions {
  config?: string;
  symbols?: string;
  bar?: string;
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
  const client = await clientFor(cfg, opts.gateway);
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

/** An IBKR client with the engine config's gateway settings (URL overridable). */
async function clientFor(cfg: TandemConfig, gateway: string | undefined): Promise<IbkrClient> {
  const { IbkrClient } = await import('../ibkr/client.ts');
  const { connectionOptions } = await import('./connection.ts');
  const g = cfg.engine.gateway;
  return new IbkrClient({
    baseUrl: gateway ?? g.url,
    ...(g.tls.caFile || g.tls.fingerprint ? { tls: { caFile: g.tls.caFile, fingerprint: g.tls.fingerprint } } : {}),
    timeoutMs: g.timeoutMs,
    maxRequestsPerSecond: cfg.engine.pacing.maxRequestsPerSecond,
    dataDir: cfg.engine.dataDir,
    // connection: oauth (unless --gateway points elsewhere): IBKR's API, signed.
    ...(cfg.engine.connection === 'oauth' && !gateway ? connectionOptions(cfg.engine) : {}),
  });
}

/** --config, else the engine config of the current directory, else the package's own. */
async function defaultConfigPath(): Promise<string> {
  const { DEFAULT_ENGINE_CONFIG } = await import('../config/load.ts');
  if (existsSync(DEFAULT_ENGINE_CONFIG)) return DEFAULT_ENGINE_CONFIG;
  return join(packageRoot(), DEFAULT_ENGINE_CONFIG);
}

/** `--symbols`: every symbol's bars into one bar file, through the per-symbol cache. */
async function downloadUniverseToFile(opts: HistoryCliOptions): Promise<void> {
  const { downloadUniverse, parseSymbols } = await import('../backtest/universe.ts');
  const { ProgressBar } = await import('../util/progress.ts');
  const { loadConfig } = await import('../config/load.ts');
  const { parseRange } = await import('../backtest/history.ts');
  const { writeBars } = await import('../backtest/bar-files.ts');
  const instruments = parseSymbols(opts.symbols!);
  const configPath = opts.config ?? (await defaultConfigPath());
  const cfg = loadConfig(configPath);
  const only = cfg.kind === 'strategy' ? cfg.strategies[0]!.strategy : null;
  const bar = opts.bar ?? (only && typeof only.bar === 'string' ? only.bar : undefined);
  if (!bar) throw new UserError('--symbols needs --bar (e.g. --bar 5min), or a --config strategy file whose bar is used');
  const { from, to } = parseRange(opts.start, opts.end);
  if (!opts.out) throw new UserError('--symbols needs --out FILE.csv or FILE.parquet (the universe file for tandem scan --data)');
  const out = opts.out;
  const client = await clientFor(cfg, opts.gateway);
  const progress = new ProgressBar({ label: 'history', total: instruments.length });
  try {
    const got = await downloadUniverse(client, {
      connect: () => client.connect(),
      instruments,
      bar,
      from,
      to,
      cacheDir: join(cfg.engine.dataDir, 'history', 'cache'),
      onSymbol: (done, total, o) => {
        progress.update(done);
        if (!progress.enabled) process.stderr.write(`[${done}/${total}] ${o.symbol}: ${o.error ? `failed: ${o.error}` : `${o.bars} bars${o.cached ? ' (cached)' : ''}`}\n`);
      },
    });
    progress.finish();
    const failed = got.outcomes.filter((o) => o.error);
    if (got.series.length === 0) throw new UserError(`no symbol could be downloaded: ${failed[0]?.symbol}: ${failed[0]?.error}`);
    await writeOutput(out, async () => {
      mkdirSync(dirname(out), { recursive: true });
      await writeBars(out, got.series);
    });
    const cached = got.outcomes.filter((o) => o.cached).length;
    process.stdout.write(`${got.series.length} symbol(s) (${cached} from the cache), ${got.series.reduce((n, s) => n + s.length, 0)} bars written to ${out}\n`);
    if (failed.length) process.stdout.write(`${failed.length} symbol(s) skipped: ${failed.map((o) => `${o.symbol} (${o.error})`).join('; ')}\n`);
  } finally {
    await client.close();
  }
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description("download a strategy's two legs' bars, or a list of symbols (--symbols), from the gateway into a bar file (Parquet, or CSV with --out x.csv)")
    .addOption(configOption())
    .option('--symbols <list>', 'download these symbols instead of a strategy\'s legs, e.g. ETHA,ETHV,SPY,BTC:CRYPTO (for tandem scan)')
    .option('--bar <size>', "with --symbols: bar size (default: the strategy's bar), e.g. 5min, 1h, 1d")
    .requiredOption('--start <date>', 'first bar time, ISO 8601 (e.g. 2024-01-02) or epoch ms')
    .requiredOption('--end <date>', 'end, exclusive (a date alone includes that whole day)')
    .option('--out <file>', 'output file, .parquet or .csv (default: <dataDir>/history/<Y>_<X>_<bar>_<start>_<end>.parquet)')
    .option('--gateway <url>', 'Client Portal Gateway URL (default: gateway.url of the engine config)', gatewayUrl)
    .action(async (opts: HistoryCliOptions) => {
      if (opts.symbols !== undefined) return downloadUniverseToFile(opts);
      if (!opts.config) throw new UserError('give --config STRATEGY.yaml (its two legs) or --symbols A,B,C (a universe)');
      if (opts.bar) throw new UserError('--bar goes with --symbols; a strategy file gives its own bar');
      const { loadConfig } = await import('../config/load.ts');
      const cfg = loadConfig(opts.config);
      const { file, counts } = await downloadToFile(cfg, opts.config, opts);
      process.stdout.write(`bars (${counts}) written to ${file}\n`);
    });
}
