/**
 * Entry point of the `tandem` command (`npm start -- <args>`). All commands live under src/cli/.
 */
import { runCli } from './cli/index.ts';

process.exitCode = await runCli(process.argv.slice(2));
