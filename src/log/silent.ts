/**
 * The logger that logs nothing: what every part logs to when given no logger (backtests, library
 * use, tests). It is not a pino instance, so a command that logs nothing (a backtest) never loads
 * pino (~20 ms of its start). It has what the code calls on a logger (the level methods and
 * isLevelEnabled), typed as the pino Logger the parts take.
 */
import type { Logger } from 'pino';

const nothing = (): void => {};

export const silentLogger: Logger = {
  level: 'silent',
  isLevelEnabled: () => false,
  fatal: nothing,
  error: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  trace: nothing,
  silent: nothing,
} as unknown as Logger;
