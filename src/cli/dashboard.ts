/**
 * `tandem dashboard [--journal FILE] [--port N] [--host ADDR --allow-remote]`: the live dashboard of
 * a node running elsewhere on this machine, from its journal (read-only) and status record. Prints
 * the page's URL with its access token; runs until Ctrl-C. `tandem run --dashboard` serves the same
 * page from inside the node.
 */
import type { Command } from 'commander';
import { UserError } from '../util/errors.ts';

export function parsePort(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`${flag} "${text}" is not a port. Fix: use a number from 1 to 65535 (0 picks a free one).`, 'TANDEM_BAD_OPTION');
  return n;
}

interface DashboardOpts { journal: string; port?: string; host: string; allowRemote?: boolean }

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the live dashboard of a running node from its journal (loopback only by default)')
    .option('--journal <file>', 'the node\'s journal', 'data/journal.sqlite')
    .option('--port <n>', 'port to listen on (default: a free one)')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--allow-remote', 'allow binding a non-loopback address (the token is still required)')
    .action(async (opts: DashboardOpts) => {
      const port = parsePort(opts.port, '--port');
      const { startDashboard } = await import('../observe/dashboard/server.ts');
      const d = await startDashboard({ journalFile: opts.journal, host: opts.host, allowRemote: Boolean(opts.allowRemote), ...(port !== undefined ? { port } : {}) });
      process.stdout.write(`dashboard: ${d.pageUrl}\nmetrics:   ${d.url}/metrics (Authorization: Bearer <token>)\nhealth:    ${d.url}/healthz\nCtrl-C stops it.\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await d.close();
    });
}
