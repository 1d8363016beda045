/**
 * `tandem cache clear [--data-dir DIR]`: deletes the IBKR contract cache so conids are resolved
 * again from the gateway on the next run.
 */
import type { Command } from 'commander';
import { clearContractCache, contractCachePath } from '../ibkr/contract-cache.ts';

export function registerCacheCommand(program: Command): void {
  const cache = program.command('cache').description('Manage local caches');
  cache
    .command('clear')
    .description('Delete the IBKR contract cache (symbol → conid); it is rebuilt on the next run')
    .option('--data-dir <dir>', 'data directory', 'data')
    .action((opts: { dataDir: string }) => {
      const path = contractCachePath(opts.dataDir);
      const removed = clearContractCache(opts.dataDir);
      process.stdout.write(removed ? `Removed ${path}\n` : `No contract cache at ${path}; nothing to do\n`);
    });
}
