/**
 * `tandem status [--journal FILE] [--json]`: the state of a run — positions, cash and equity per
 * strategy, open orders, session health, last bar, trading state — from the journal (opened
 * read-only, safe while the node runs) and the node's status record. Exit code 0 when healthy,
 * 3 when the session is down or trading is halted (for scripts and health checks).
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show positions, equity, open orders, session and trading state of a run (read-only)')
    .option('--journal <file>', 'the node\'s journal', 'data/journal.sqlite')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { journal: string; json?: boolean }) => {
      const { JournalReader } = await import('../observe/journal-reader.ts');
      const { buildStatus, renderStatusText } = await import('../observe/snapshot.ts');
      const reader = new JournalReader(opts.journal);
      try {
        const s = buildStatus(reader);
        process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatusText(s));
        if (!s.healthy.ok) throw new UserError(`unhealthy: ${s.healthy.reasons.join('; ')}`, 'TANDEM_UNHEALTHY');
      } finally {
        reader.close();
      }
    });
}
