/**
 * `tandem scan --data FILE.csv [--lookback N] [--json OUT] [--workers N] [--top N]`: tests every
 * pair of the file's symbols for cointegration and prints them ranked (see src/backtest/scan.ts).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ScanResult } from '../backtest/scan.ts';
import { UserError } from '../util/errors.ts';
import { ProgressBar } from '../util/progress.ts';
import { writeOutput } from './output-file.ts';

function nonNegativeInt(flag: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new UserError(`${flag} ${text}: expected a whole number >= 0`);
  return v;
}

export function formatScan(r: ScanResult, top: number): string {
  const head = ['rank', 'y', 'x', 'bars', 'EG p', 'EG p (x on y)', 'Johansen trace/95%', 'beta', 'half-life', 'corr'];
  const rows = r.pairs.slice(0, top).map((p, i) => [
    String(i + 1),
    p.y,
    p.x,
    String(p.bars),
    p.pValue.toPrecision(3),
    p.egXonY.pValue.toPrecision(3),
    `${p.johansen.trace.toFixed(2)}/${p.johansen.crit95.toFixed(2)}${p.johansen.cointegrated95 ? ' *' : ''}`,
    p.beta.toFixed(4),
    Number.isFinite(p.halfLife) ? p.halfLife.toFixed(1) : 'none',
    p.correlation.toFixed(3),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  out.push(`${r.pairs.length} pair(s) ranked by Engle–Granger p-value (better direction), then Johansen trace/critical, then half-life; * = Johansen rank ≥ 1 at 95%.`);
  if (r.skipped.length) out.push(`${r.skipped.length} pair(s) skipped: ${r.skipped.slice(0, 5).map((s) => `${s.a}/${s.b} (${s.reason})`).join('; ')}${r.skipped.length > 5 ? '; ...' : ''}`);
  return out.join('\n') + '\n';
}

export function registerScanCommand(program: Command): void {
  program
    .command('scan')
    .description('rank every pair of a bar file\'s symbols by cointegration (Engle–Granger both ways, Johansen, half-life)')
    .requiredOption('--data <file>', 'bar file, CSV or Parquet (time,symbol,open,high,low,close,volume), with two or more symbols')
    .option('--lookback <bars>', 'use the last N aligned bars of each pair (0 = all)', '0')
    .option('--json <out.json>', 'write every pair\'s figures as JSON')
    .option('--workers <n>', 'worker threads (0 = none; default: one per core for large universes)')
    .option('--top <n>', 'pairs to print', '20')
    .action(async (opts: { data: string; lookback: string; json?: string; workers?: string; top: string }) => {
      const lookback = nonNegativeInt('--lookback', opts.lookback);
      const top = nonNegativeInt('--top', opts.top);
      const workers = opts.workers !== undefined ? nonNegativeInt('--workers', opts.workers) : undefined;
      const { loadBars } = await import('../backtest/bar-files.ts');
      const { scanSeries } = await import('../backtest/scan.ts');
      const reading = new ProgressBar({ label: 'reading bars', total: 0 });
      const series = await loadBars(opts.data, {
        onProgress: (done, total) => {
          reading.setTotal(total);
          reading.update(done);
        },
      });
      reading.finish();
      if (series.size < 2) throw new UserError(`${opts.data}: ${series.size} symbol(s) in the file; a scan needs at least two`);
      const result = await scanSeries(series, { lookback, ...(workers !== undefined ? { workers } : {}) });
      if (opts.json) {
        const json = opts.json;
        const body = JSON.stringify({ file: opts.data, ...result }, (_k, v: unknown) => (v === Infinity ? null : v), 2);
        await writeOutput(json, async () => writeFileSync(json, body + '\n'));
      }
      process.stdout.write(formatScan(result, top));
      if (opts.json) process.stdout.write(`JSON written to ${opts.json}\n`);
    });
}
