/** `tandem config show`: the resolved configuration, secrets masked. */
import type { Command } from 'commander';
import { scrubSecrets } from '../util/secrets.ts';
import { configOption, modeOption } from './options.ts';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect configuration');
  config
    .command('show')
    .description('print the resolved configuration (defaults applied, secrets masked)')
    .addOption(configOption().makeOptionMandatory())
    .addOption(modeOption())
    .option('--json', 'print JSON instead of YAML')
    .action(async (opts: { config: string; mode?: 'paper' | 'live'; json?: boolean }) => {
      const { loadConfig } = await import('../config/load.ts');
      const { printableConfig, printableYaml } = await import('../config/mask.ts');
      const cfg = loadConfig(opts.config, opts.mode ? { mode: opts.mode } : {});
      const out = printableConfig(cfg);
      process.stdout.write(scrubSecrets(opts.json ? `${JSON.stringify(out, null, 2)}\n` : printableYaml(out)));
    });
}
