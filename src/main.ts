/**
 * Entry point of the `tandem` command (`npm start -- <args>`). All commands live under src/cli/.
 *
 * Once a command has returned, nothing may keep the process alive: every owner closes its sockets
 * and timers on every stop path. Should one still be open (a bug), the process does not hang (a
 * trading node that ignores SIGTERM is worse than one that exits): after a grace period it names
 * what is left and exits with the command's code.
 */
import { hideSqliteExperimentalWarning } from './util/sqlite-warning.ts';

// Before the CLI's modules load: Node 22 warns while loading node:sqlite (see util/sqlite-warning.ts).
hideSqliteExperimentalWarning();
const { runCli } = await import('./cli/index.ts');

const EXIT_GRACE_MS = 5_000;

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => {
  process.stderr.write(`left open after the command ended (a bug, please report it): ${process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').join(', ') || 'timers'}; exiting\n`);
  process.exit(code);
}, EXIT_GRACE_MS).unref();
