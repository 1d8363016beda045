/**
 * The command-line program: builds the commander tree from one module per command and turns
 * errors into exit codes. A user's mistake (UserError) prints one paragraph, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { isUserError } from '../util/errors.ts';
import { scrubSecrets } from '../util/secrets.ts';
import { sqliteErrorName, storageError } from '../store/storage-error.ts';
import { EXIT, exitCodeFor } from '../util/exit-codes.ts';
import { packageRoot } from '../util/package-root.ts';
import { commands } from './commands.ts';

/** The package's version, read from its package.json. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('tandem')
    .description('Trade cointegrated pairs through the Interactive Brokers Client Portal Web API')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');
  for (const register of commands) register(program);
  return program;
}

/**
 * `tandem --config FILE [...]` (no command) means `tandem run --config FILE [...]`, as the seed's
 * `main --config FILE` did.
 */
export function withDefaultCommand(program: Command, argv: string[]): string[] {
  const first = argv[0];
  const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  const hasConfig = argv.some((a) => a === '--config' || a === '-c' || a.startsWith('--config='));
  if (first !== undefined && first.startsWith('-') && hasConfig && names.has('run') && !argv.some((a) => a === '--help' || a === '-h')) {
    return ['run', ...argv];
  }
  return argv;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(withDefaultCommand(program, argv), { from: 'user' });
    return EXIT.ok;
  } catch (caught) {
    let err = caught;
    if (err instanceof CommanderError) {
      // commander has already printed help or the usage error itself.
      return err.exitCode === 0 ? EXIT.ok : EXIT.userError;
    }
    // A journal write that failed mid-run (disk full, I/O error): one line, not a stack.
    const storage = sqliteErrorName(err) ? storageError(err) : undefined;
    if (storage) err = storage;
    if (isUserError(err)) {
      process.stderr.write(scrubSecrets(`error: ${err.message}\n`));
      return exitCodeFor(err);
    }
    process.stderr.write(scrubSecrets(`internal error (please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`));
    return EXIT.bug;
  }
}
