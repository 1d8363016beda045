/**
 * `tandem history --config STRATEGY.yaml --start DATE --end DATE [--out FILE.csv] [--gateway URL]`:
 * downloads both legs' bars from the Client Portal Gateway into a bar file that `tandem backtest
 * --data` reads. `tandem backtest --from-gateway` does the same, then backtests the file.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { TandemConfig } from '../config/load.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { configOption } from './options.ts';
import { writeOutput } from './output-file.ts';

export interface HistoryCliOptions {
  config: string;
  start: string;
  end: string;
  out?: string;
  gateway?: string;
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
 * Downloads the pair's bars over the range into a bar file; returns its path and bar counts.
 * Default file: `<dataDir>/history/<Y>_<X>_<bar>_<start>_<end>.csv`.
 */
export async function downloadToFile(cfg: TandemConfig, configPath: string, opts: HistoryCliOptions): Promise<{ file: string; counts: string }> {
  const { downloadPairHistory, parseRange, writeBarsCsv } = await import('../backtest/history.ts');
  const { IbkrClient } = await import('../ibkr/client.ts');
  const { params } = pairStrategy(cfg, configPath);
  const { from, to } = parseRange(opts.start, opts.end);
  const day = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file =
    opts.out ?? join(cfg.engine.dataDir, 'history', `${params.legs.y.symbol}_${params.legs.x.symbol}_${params.bar}_${day(from)}_${day(to)}.csv`);
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
    const series = await downloadPairHistory(client, { legs: params.legs, bar: params.bar, from, to });
    await writeOutput(file, async () => {
      mkdirSync(dirname(file), { recursive: true });
      await writeBarsCsv(file, series);
    });
    return { file, counts: series.map((s) => `${s.symbol} ${s.length}`).join(', ') };
  } finally {
    await client.close();
  }
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description("download a strategy's two legs' bars from the gateway into a CSV bar file")
    .addOption(configOption().makeOptionMandatory())
    .requiredOption('--start <date>', 'first bar time, ISO 8601 (e.g. 2024-01-02) or epoch ms')
    .requiredOption('--end <date>', 'end, exclusive (a date alone includes that whole day)')
    .option('--out <file.csv>', 'output file (default: <dataDir>/history/<Y>_<X>_<bar>_<start>_<end>.csv)')
    .option('--gateway <url>', 'Client Portal Gateway URL (default: gateway.url of the engine config)')
    .action(async (opts: HistoryCliOptions) => {
      const { loadConfig } = await import('../config/load.ts');
      const cfg = loadConfig(opts.config);
      const { file, counts } = await downloadToFile(cfg, opts.config, opts);
      process.stdout.write(`bars (${counts}) written to ${file}\n`);
    });
}
