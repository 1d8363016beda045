/**
 * `tandem backtest --config STRATEGY.yaml --data FILE.csv [--cash N] [--json OUT] [--report OUT.html]`:
 * runs a strategy over a bar file with the rules of docs/strategy.md and prints the metrics.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { backtestFile } from '../backtest/backtest-file.ts';
import { writeBacktestJson } from '../backtest/output.ts';
import type { BacktestResult } from '../backtest/runner.ts';
import { UserError } from '../util/errors.ts';
import { configOption } from './options.ts';

export const DEFAULT_STARTING_CASH = 100_000;

interface BacktestCliOptions {
  config: string;
  data: string;
  cash?: string;
  json?: string;
  report?: string;
}

function parseCash(text: string): number {
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
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/** An output file that cannot be written is the user's to fix (a missing directory, permissions). */
export async function writeOutput(file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new UserError(`cannot write ${file} (${code}); check that its directory exists and is writable`);
    throw err;
  }
}

export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest')
    .description('backtest a strategy config over a CSV bar file (time,symbol,open,high,low,close,volume)')
    .addOption(configOption().makeOptionMandatory())
    .requiredOption('--data <file.csv>', 'bar file holding both legs')
    .option('--cash <amount>', 'starting cash (default: paper.startingCash of the engine config, else 100000)')
    .option('--json <out.json>', 'write the full result (metrics, trades, fills, equity curve) as JSON')
    .option('--report <out.html>', 'write a self-contained HTML report with charts')
    .action(async (opts: BacktestCliOptions) => {
      const cfg = loadConfig(opts.config);
      if (cfg.strategies.length !== 1) {
        throw new UserError(`${opts.config} names ${cfg.strategies.length} strategies; pass one strategy file to backtest (e.g. configs/strategies/...yaml)`);
      }
      const startingCash = opts.cash !== undefined ? parseCash(opts.cash) : (cfg.engine.paper.startingCash ?? DEFAULT_STARTING_CASH);
      const run = await backtestFile({ config: cfg.strategies[0]!, dataFile: opts.data, startingCash, report: opts.report !== undefined });
      for (const w of run.warnings) process.stderr.write(`warning: ${w}\n`);
      const html = run.html;
      if (opts.json) await writeOutput(opts.json, () => writeBacktestJson(run.result, opts.json!));
      if (opts.report && html !== null) await writeOutput(opts.report, async () => writeFileSync(opts.report!, html));
      process.stdout.write(formatSummary(run.result, run.alignedBars));
      if (opts.json) process.stdout.write(`JSON written to ${opts.json}\n`);
      if (opts.report) process.stdout.write(`report written to ${opts.report}\n`);
    });
}
