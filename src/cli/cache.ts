/**
 * `tandem cache clear [--data-dir DIR]`: deletes the IBKR contract cache so conids are resolved
 * again from the gateway on the next run.
 */
import type { Command } from 'commander';

export function registerCacheCommand(program: Command): void {
  const cache = program.command('cache').description('Manage local caches');
  cache
    .command('clear')
    .description('Delete the IBKR contract cache (symbol → conid); it is rebuilt on the next run')
    .option('--data-dir <dir>', 'data directory', 'data')
    .action(async (opts: { dataDir: string }) => {
      const { clearContractCache, contractCachePath } = await import('../ibkr/contract-cache.ts');
      const path = contractCachePath(opts.dataDir);
      const removed = clearContractCache(opts.dataDir);
      process.stdout.write(removed ? `Removed ${path}\n` : `No contract cache at ${path}; nothing to do\n`);
    });
}
