/**
 * `tandem backtest --config STRATEGY.yaml|ENGINE.yaml --data FILE.csv [--cash N] [--json OUT] [--report OUT.html]`:
 * runs the strategy (or every strategy of an engine config, together on one account) over a bar
 * file on the live trading node (docs/strategy.md, "Where backtest and live rules meet") and prints
 * the metrics, what the live rules refused, and why nothing happened when nothing did.
 */
import type { Command } from 'commander';
import { describeDiagnostics } from '../backtest/diagnostics.ts';
import type { LiveBacktestResult } from '../backtest/live-backtest.ts';
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
  specRules?: boolean;
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

/** What the live rules did to the run: refusals by reason, a daily-loss stop, each strategy of a portfolio. */
export function formatLiveRun(live: LiveBacktestResult): string {
  const out: string[] = [];
  if (live.stopReason === 'daily-loss') out.push('stopped      the daily-loss limit (risk.maxDailyLoss) was reached: every strategy was flattened at the next open and the run traded no more');
  for (const r of live.refusals) out.push(`refused      ${r.count} × ${r.strategyId}: ${r.reason}${r.count > 1 ? ' (first of them)' : ''}`);
  if (live.strategies.length > 1) {
    for (const s of live.strategies) {
      const m = s.result.metrics;
      out.push(`strategy     ${s.id}: start ${s.result.startingCash.toFixed(2)}, final ${s.result.finalEquity.toFixed(2)}, return ${(m.totalReturn * 100).toFixed(2)}%, ${m.trades} trades, refused ${s.result.diagnostics.refused.risk} by risk limits and ${s.result.diagnostics.refused.marketHours} by market hours${s.result.diagnostics.hint ? `; why no trades: ${s.result.diagnostics.hint}` : ''}`);
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest')
    .description('backtest a strategy config, or every strategy of an engine config on one account, over a bar file (CSV or Parquet: time,symbol,open,high,low,close,volume) on the live trading node')
    .addOption(configOption().makeOptionMandatory())
    .option('--data <file>', 'bar file holding both legs: CSV, or Parquet (.parquet)')
    .option('--from-gateway', 'download the bars from the Client Portal Gateway first (with --start, --end)')
    .option('--start <date>', 'with --from-gateway: first bar time (ISO 8601 or epoch ms)')
    .option('--end <date>', 'with --from-gateway: end, exclusive (a date alone includes that day)')
    .option('--gateway <url>', 'with --from-gateway: gateway URL (default: gateway.url of the engine config)', gatewayUrl)
    .option('--cash <amount>', 'starting cash (default: paper.startingCash of the engine config, else 100000)')
    .option('--json <out.json>', 'write the full result (metrics, trades, fills, equity curve) as JSON')
    .option('--report <out.html>', 'write a self-contained HTML report with charts (an engine config: the account, then each strategy)')
    .option('--spec-rules', 'one strategy through the in-process runner under the strategy spec\'s rules only (no market hours, risk limits or daily-loss stop; several times faster, as sweeps run)')
    .action(async (opts: BacktestCliOptions) => {
      if (Boolean(opts.data) === Boolean(opts.fromGateway)) throw new UserError('give either --data FILE (.csv or .parquet) or --from-gateway --start DATE --end DATE');
      if (opts.fromGateway && (!opts.start || !opts.end)) throw new UserError('--from-gateway needs --start DATE and --end DATE');
      // The file's reading threads boot (~0.1 s) while the modules below load and the config is read.
      if (opts.data) (await import('../backtest/bar-stream.ts')).prestartReaders(opts.data, !opts.specRules);
      // Loaded here, not at the top: `tandem --help` should not pay for the backtester (see commands.ts).
      const { writeFileSync } = await import('node:fs');
      const { loadConfig } = await import('../config/load.ts');
      const { backtestFile, backtestNodeFile } = await import('../backtest/backtest-file.ts');
      const { writeBacktestJson } = await import('../backtest/output.ts');
      const { downloadToFile } = await import('./history.ts');
      const { writeOutput } = await import('./output-file.ts');
      const cfg = loadConfig(opts.config);
      for (const s of cfg.strategies) {
        if (s.strategy.type !== 'cointegration') throw new UserError(`${s.file ?? opts.config}: strategy type '${s.strategy.type}' is not a pair strategy`);
      }
      if (opts.fromGateway && cfg.strategies.length !== 1) throw new UserError(`--from-gateway downloads one pair: ${opts.config} names ${cfg.strategies.length} strategies; download each pair with \`tandem history\`, merge the files, and pass --data`);
      const startingCash = opts.cash !== undefined ? parseCash(opts.cash) : (cfg.engine.paper.startingCash ?? DEFAULT_STARTING_CASH);
      let dataFile = opts.data!;
      if (opts.fromGateway) {
        const got = await downloadToFile(cfg, opts.config, { config: opts.config, start: opts.start!, end: opts.end!, useCache: true, ...(opts.gateway ? { gateway: opts.gateway } : {}) });
        process.stderr.write(got.cached ? `bars (${got.counts}) read from the cache ${got.file} (delete it to download again)\n` : `bars (${got.counts}) downloaded to ${got.file}\n`);
        dataFile = got.file;
      }
      if (opts.specRules && cfg.strategies.length !== 1) throw new UserError(`--spec-rules runs one strategy: ${opts.config} names ${cfg.strategies.length}; pass a strategy file`);
      const r = cfg.engine.risk;
      const run = opts.specRules
        ? await backtestFile({ config: cfg.strategies[0]!, dataFile, startingCash, report: opts.report !== undefined, rules: 'spec' })
        : await backtestNodeFile({
        configs: cfg.strategies, dataFile, startingCash, report: opts.report !== undefined,
        risk: { maxGrossNotional: r.maxGrossNotional, maxPositionNotional: r.maxPositionPerLeg, maxDailyLoss: r.maxDailyLoss, allowOutsideRth: r.allowOutsideRth, maxBarAgeBars: r.maxBarAgeBars },
      });
      for (const w of run.warnings) process.stderr.write(`warning: ${w}\n`);
      const html = run.html;
      if (opts.json) await writeOutput(opts.json, () => writeBacktestJson(run.result, opts.json!));
      if (opts.report && html !== null) await writeOutput(opts.report, async () => writeFileSync(opts.report!, html));
      process.stdout.write(formatSummary(run.result, run.alignedBars));
      if (run.live) process.stdout.write(formatLiveRun(run.live));
      if (opts.json) process.stdout.write(`JSON written to ${opts.json}\n`);
      if (opts.report) process.stdout.write(`report written to ${opts.report}\n`);
    });
}
