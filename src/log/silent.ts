/**
 * A logger that logs nothing, without loading pino (~20 ms of a command's start): what the trading
 * node and its order manager log to when given no logger, as every backtest runs them. It has the
 * methods those call (the levels and isLevelEnabled), typed as the pino Logger they take.
 */
import type { Logger } from 'pino';

const nothing = (): void => {};

export const quietLogger: Logger = {
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
