/** Options several commands share, so they read and validate the same way everywhere. */
import { Option } from 'commander';

export const modeOption = () =>
  new Option('--mode <mode>', 'paper or live (overrides the config)').choices(['paper', 'live']);

export const configOption = () => new Option('-c, --config <file>', 'a strategy, engine or legacy main config file');
