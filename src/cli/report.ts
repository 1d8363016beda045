/**
 * `tandem report [--journal FILE] --out run.html [--compare-backtest] [--config STRATEGY.yaml]
 * [--strategy ID]`: a live or paper run in the backtest report's format, from its journal; with
 * `--compare-backtest` the recorded bars are replayed through the backtester and both are shown.
 * The strategy's parameters come from the node status record, or from --config.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { writeOutput } from './output-file.ts';

interface ReportOpts { journal: string; out: string; compareBacktest?: boolean; config?: string; strategy?: string; slippageBps?: string }

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('render a live/paper run from its journal as an HTML report (optionally against a backtest of the same bars)')
    .option('--journal <file>', 'the node\'s journal', 'data/journal.sqlite')
    .requiredOption('--out <file>', 'the HTML file to write')
    .option('--compare-backtest', 'replay the recorded bars through the backtester and show both side by side')
    .option('-c, --config <file>', 'the strategy file the node ran (default: the parameters in the node status record)')
    .option('--strategy <id>', 'which strategy of a multi-strategy journal')
    .option('--slippage-bps <n>', 'backtest slippage (default: the strategy file\'s costs, else 0)')
    .action(async (opts: ReportOpts) => {
      const { JournalReader } = await import('../observe/journal-reader.ts');
      const { buildLiveReport } = await import('../observe/live-report.ts');
      let params;
      let slippageBps = opts.slippageBps === undefined ? undefined : Number(opts.slippageBps);
      if (opts.config) {
        const { loadStrategyFile } = await import('../config/load.ts');
        const { cointegrationParamsSchema } = await import('../strategies/cointegration/params.ts');
        const sc = loadStrategyFile(opts.config);
        params = cointegrationParamsSchema.parse(sc.strategy);
        slippageBps ??= sc.costs.slippageBps;
      }
      const reader = new JournalReader(opts.journal);
      try {
        const r = buildLiveReport(reader, { compare: Boolean(opts.compareBacktest), ...(params ? { params } : {}), ...(opts.strategy ? { strategyId: opts.strategy } : {}), ...(slippageBps !== undefined ? { slippageBps } : {}) });
        await writeOutput(opts.out, () => writeFile(opts.out, r.html));
        const c = r.comparison;
        process.stdout.write(`wrote ${opts.out}: ${r.live.bars} live bars, ${r.live.metrics.trades} closed trade(s), equity ${r.live.startingCash.toFixed(2)} -> ${r.live.finalEquity.toFixed(2)}` +
          (r.backtest ? `; backtest of the same bars: ${r.backtest.metrics.trades} trade(s), equity ${r.backtest.finalEquity.toFixed(2)}; ${c.filter((x) => x.status === 'matched').length} matched, ${c.filter((x) => x.status === 'missed live').length} missed live, ${c.filter((x) => x.status === 'live only').length} live only` : '') + '\n');
      } finally {
        reader.close();
      }
    });
}
