/**
 * `tandem trades [--journal FILE] [--since WHEN] [--json | --csv [--fills]]`: the fills of a run and
 * its round trips (flat -> position -> flat) with P&L, read from the journal (read-only, safe while
 * the node runs). `--since` takes a date/time (2026-03-03, 2026-03-03T15:00Z) or a duration back
 * from now (90m, 6h, 2d).
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.ts';

/** A date/time, or a duration ago (`90m`, `6h`, `2d`), as epoch ms. */
export function parseSince(text: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(m|min|h|d)$/.exec(text.trim());
  if (d) return now - Number(d[1]) * (d[2] === 'd' ? 86_400_000 : d[2] === 'h' ? 3_600_000 : 60_000);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new UserError(`--since "${text}" is neither a date/time nor a duration. Fix: use e.g. 2026-03-03, 2026-03-03T15:00Z, 90m, 6h or 2d.`, 'TANDEM_BAD_OPTION');
  return t;
}

interface TradesOpts { journal: string; since?: string; json?: boolean; csv?: boolean; fills?: boolean }

export function registerTradesCommand(program: Command): void {
  program
    .command('trades')
    .description('list the fills and round trips (with P&L) of a run from its journal (read-only)')
    .option('--journal <file>', 'the node\'s journal', 'data/journal.sqlite')
    .option('--since <when>', 'only from this date/time, or this long ago (90m, 6h, 2d)')
    .option('--json', 'print fills and round trips as JSON')
    .option('--csv', 'print the round trips as CSV (with --fills: the fills)')
    .option('--fills', 'with --csv: the fills instead of the round trips')
    .action(async (opts: TradesOpts) => {
      if (opts.json && opts.csv) throw new UserError('--json and --csv exclude each other. Fix: choose one.', 'TANDEM_BAD_OPTION');
      const since = opts.since === undefined ? 0 : parseSince(opts.since);
      const { JournalReader } = await import('../observe/journal-reader.ts');
      const { tradesReport, renderTradesText, tripsCsv, fillsCsv } = await import('../observe/trades.ts');
      const reader = new JournalReader(opts.journal);
      try {
        const r = tradesReport(reader, since);
        if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else if (opts.csv) process.stdout.write(opts.fills ? fillsCsv(r.fills) : tripsCsv(r.roundTrips));
        else process.stdout.write(renderTradesText(r));
      } finally {
        reader.close();
      }
    });
}
