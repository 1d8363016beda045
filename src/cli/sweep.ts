/**
 * `tandem sweep --config STRATEGY.yaml --data FILE.csv --grid 'entryZ=1.5,2 lookback=60,120'
 * [--walk-forward train=N,test=M] [--cash N] [--workers N] [--top N] [--json OUT] [--report OUT.html]`:
 * backtests every grid point over the bar file on worker threads and ranks them; with
 * --walk-forward, also picks the best point on each training window and scores it on the next
 * test window (see src/backtest/sweep.ts). Heavy modules load inside the action.
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.ts';
import { configOption } from './options.ts';

interface SweepCliOptions {
  config: string;
  data: string;
  grid: string;
  walkForward?: string;
  cash?: string;
  workers?: string;
  top: string;
  json?: string;
  report?: string;
}

function wholeNumber(flag: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new UserError(`${flag} ${text}: expected a whole number >= 0`);
  return v;
}

export function registerSweepCommand(program: Command): void {
  program
    .command('sweep')
    .description('backtest a grid of strategy parameters over a bar file, ranked; with --walk-forward, out-of-sample results')
    .addOption(configOption().makeOptionMandatory())
    .requiredOption('--data <file.csv>', 'bar file holding both legs')
    .requiredOption('--grid <spec>', "parameters and values, e.g. 'entryZ=1.5,2,2.5 lookback=60,120' (dotted keys for nested ones: gate.lookback=260,390)")
    .option('--walk-forward <spec>', 'train=N,test=M in bars (e.g. train=2000,test=500) or durations (train=20d,test=5d)')
    .option('--cash <amount>', 'starting cash of every run (default: paper.startingCash of the engine config, else 100000)')
    .option('--workers <n>', 'worker threads (0 = none; default: one per core)')
    .option('--top <n>', 'points to print', '20')
    .option('--json <out.json>', 'write every point (and fold) as JSON')
    .option('--report <out.html>', 'write an HTML report: ranking, Sharpe heat map, walk-forward folds')
    .action(async (opts: SweepCliOptions) => {
      const { writeFileSync } = await import('node:fs');
      const { loadConfig } = await import('../config/load.ts');
      const { loadPair } = await import('../backtest/backtest-file.ts');
      const { alignBars } = await import('../backtest/align.ts');
      const { pairColumns } = await import('../backtest/sweep-run.ts');
      const { parseGrid } = await import('../backtest/sweep-grid.ts');
      const { sweep, walkForward, parseWalkForward, plannedFolds } = await import('../backtest/sweep.ts');
      const { formatSweep, formatWalkForward, renderSweepReport } = await import('../backtest/report/sweep-report.ts');
      const { pairStrategy } = await import('./history.ts');
      const { DEFAULT_STARTING_CASH, parseCash } = await import('./backtest.ts');
      const { writeOutput } = await import('./output-file.ts');

      const axes = parseGrid(opts.grid);
      const wfSpec = opts.walkForward !== undefined ? parseWalkForward(opts.walkForward) : null;
      const top = wholeNumber('--top', opts.top);
      const workers = opts.workers !== undefined ? wholeNumber('--workers', opts.workers) : undefined;
      const cfg = loadConfig(opts.config);
      const { params } = pairStrategy(cfg, opts.config);
      const startingCash = opts.cash !== undefined ? parseCash(opts.cash) : (cfg.engine.paper.startingCash ?? DEFAULT_STARTING_CASH);
      const strategyConfig = cfg.strategies[0]!;
      const pair = await loadPair(strategyConfig, opts.data);
      const columns = pairColumns(alignBars(pair.y, pair.x), pair.n, true);
      const settings = { slippageBps: strategyConfig.costs.slippageBps, startingCash, ...(workers !== undefined ? { workers } : {}) };

      if (wfSpec) plannedFolds(columns.time, wfSpec); // says before the sweep runs when the data is too short
      const result = await sweep(columns, params, axes, settings);
      const wf = wfSpec ? await walkForward(columns, params, axes, wfSpec, settings) : null;
      process.stdout.write(formatSweep(result, top));
      if (wf) process.stdout.write('\nwalk-forward\n' + formatWalkForward(wf, columns.time));
      if (opts.json) {
        const file = opts.json;
        const body = JSON.stringify({ file: opts.data, sweep: result, ...(wf ? { walkForward: wf } : {}) }, null, 2);
        await writeOutput(file, async () => writeFileSync(file, body + '\n'));
        process.stdout.write(`JSON written to ${file}\n`);
      }
      if (opts.report) {
        const file = opts.report;
        const html = renderSweepReport(result, { title: `Sweep: ${strategyConfig.name}`, dataFile: opts.data }, wf ? { result: wf, time: columns.time } : undefined);
        await writeOutput(file, async () => writeFileSync(file, html));
        process.stdout.write(`report written to ${file}\n`);
      }
    });
}
