/**
 * `tandem backtest --config STRATEGY.yaml --data FILE.csv [--cash N] [--json OUT] [--report OUT.html]`:
 * runs a strategy over a bar file with the rules of docs/strategy.md and prints the metrics.
 */
import type { Command } from 'commander';
import { describeDiagnostics } from '../backtest/diagnostics.ts';
import type { BacktestResult } from '../backtest/runner.ts';
import { UserError } from '../util/errors.ts';
import { configOption, gatewayUrl } from './options.ts';

export const DEFAULT_STARTING_CASH = 100_000;

interface BacktestCliOptions {
  config: string;
  data?: string;
  fromGateway?: boolean;
  start?: string;
  end?: string;
  gateway?: string;
  cash?: string;
  json?: string;
  report?: string;
}

export function parseCash(text: string): number {
  const v = Number(text.replace(/_/g, ''));
  if (!Number.isFinite(v) || v <= 0) throw new UserError(`--cash ${text}: the starting cash must be a positive number, e.g. --cash 100000`);
  return v;
}

export function formatSummary(r: BacktestResult, bars: number): string {
  const m = r.metrics;
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const lines: [string, string][] = [
    ['aligned bars', String(bars)],
    ['starting cash', r.startingCash.toFixed(2)],
    ['final equity', r.finalEquity.toFixed(2)],
    ['total return', pct(m.totalReturn)],
    ['CAGR', pct(m.cagr)],
    ['Sharpe', m.sharpe.toFixed(2)],
    ['max drawdown', pct(m.maxDrawdown)],
    ['trades', `${m.trades} (${r.trades.filter((t) => t.exitReason === null).length} open at the end)`],
    ['win rate', pct(m.winRate)],
    ['avg holding', `${m.avgHoldingBars.toFixed(1)} bars`],
    ['commissions', m.commissions.toFixed(2)],
    ...describeDiagnostics(r.diagnostics),
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest')
    .description('backtest a strategy config over a bar file (CSV or Parquet: time,symbol,open,high,low,close,volume)')
    .addOption(configOption().makeOptionMandatory())
    .option('--data <file>', 'bar file holding both legs: CSV, or Parquet (.parquet)')
    .option('--from-gateway', 'download the bars from the Client Portal Gateway first (with --start, --end)')
    .option('--start <date>', 'with --from-gateway: first bar time (ISO 8601 or epoch ms)')
    .option('--end <date>', 'with --from-gateway: end, exclusive (a date alone includes that day)')
    .option('--gateway <url>', 'with --from-gateway: gateway URL (default: gateway.url of the engine config)', gatewayUrl)
    .option('--cash <amount>', 'starting cash (default: paper.startingCash of the engine config, else 100000)')
    .option('--json <out.json>', 'write the full result (metrics, trades, fills, equity curve) as JSON')
    .option('--report <out.html>', 'write a self-contained HTML report with charts')
    .action(async (opts: BacktestCliOptions) => {
      if (Boolean(opts.data) === Boolean(opts.fromGateway)) throw new UserError('give either --data FILE (.csv or .parquet) or --from-gateway --start DATE --end DATE');
      if (opts.fromGateway && (!opts.start || !opts.end)) throw new UserError('--from-gateway needs --start DATE and --end DATE');
      // Loaded here, not at the top: `tandem --help` should not pay for the backtester (see commands.ts).
      const { writeFileSync } = await import('node:fs');
      const { loadConfig } = await import('../config/load.ts');
      const { backtestFile } = await import('../backtest/backtest-file.ts');
      const { writeBacktestJson } = await import('../backtest/output.ts');
      const { downloadToFile, pairStrategy } = await import('./history.ts');
      const { writeOutput } = await import('./output-file.ts');
      const cfg = loadConfig(opts.config);
      pairStrategy(cfg, opts.config);
      const startingCash = opts.cash !== undefined ? parseCash(opts.cash) : (cfg.engine.paper.startingCash ?? DEFAULT_STARTING_CASH);
      let dataFile = opts.data!;
      if (opts.fromGateway) {
        const got = await downloadToFile(cfg, opts.config, { config: opts.config, start: opts.start!, end: opts.end!, useCache: true, ...(opts.gateway ? { gateway: opts.gateway } : {}) });
        process.stderr.write(got.cached ? `bars (${got.counts}) read from the cache ${got.file} (delete it to download again)\n` : `bars (${got.counts}) downloaded to ${got.file}\n`);
        dataFile = got.file;
      }
      const run = await backtestFile({ config: cfg.strategies[0]!, dataFile, startingCash, report: opts.report !== undefined });
      for (const w of run.warnings) process.stderr.write(`warning: ${w}\n`);
      const html = run.html;
      if (opts.json) await writeOutput(opts.json, () => writeBacktestJson(run.result, opts.json!));
      if (opts.report && html !== null) await writeOutput(opts.report, async () => writeFileSync(opts.report!, html));
      process.stdout.write(formatSummary(run.result, run.alignedBars));
      if (opts.json) process.stdout.write(`JSON written to ${opts.json}\n`);
      if (opts.report) process.stdout.write(`report written to ${opts.report}\n`);
    });
}
