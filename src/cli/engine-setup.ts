/**
 * Wiring of `tandem run`: the resolved config becomes an IBKR client, the IBKR broker, the journal,
 * one runner spec per strategy (through `runnerSpecs`, the one place that reads a strategy's
 * declaration) and the trading node. The node itself knows none of these concretely.
 */
import type { TandemConfig } from '../config/load.ts';
import { accountForMode } from '../config/env.ts';
import { IbkrClient } from '../ibkr/client.ts';
import { connectionOptions } from './connection.ts';
import { IbkrBroker } from '../brokers/ibkr-broker.ts';
import type { NodeEvent } from '../engine/events.ts';
import { runnerSpecs } from '../engine/runner-spec.ts';
import { TradingNode, type NodeOptions } from '../engine/trading-node.ts';
import type { CrashPoint } from '../engine/order-manager.ts';
import { checkAccountForMode, confirmLive } from '../engine/mode-guard.ts';
import type { Logger } from '../log/logger.ts';
import { Journal } from '../store/journal.ts';
import { UserError } from '../util/errors.ts';

export interface EngineRunFlags {
  yes?: boolean;
  maxBars?: number;
  exitAfterMs?: number;
  flattenOnExit?: boolean;
  interactive?: boolean;
  onEvent?: (e: NodeEvent) => void;
  /** Overrides for tests (timers, polling). */
  overrides?: Partial<NodeOptions>;
}

/** `90s`, `5m`, `2h`, `1d` or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(text.trim());
  if (!m) throw new UserError(`--exit-after "${text}" is not a duration: use e.g. 90s, 30m, 2h or 1d.`, 'TANDEM_BAD_OPTION');
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' || unit === 'min' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return Math.round(n * factor);
}

/**
 * Test hook (crash-safety tests): `TANDEM_TEST_PAUSE_AT=after-journal|after-send` with
 * `TANDEM_TEST_PAUSE_ORDER=N` (default 1) freezes the whole process (event loop blocked) at that point of the N-th order and
 * prints `TANDEM-PAUSED <point> <cOID>` so the test can SIGKILL it there.
 */
function crashHookFromEnv(env: NodeJS.ProcessEnv = process.env): ((p: CrashPoint, cOID: string) => Promise<void>) | undefined {
  const at = env.TANDEM_TEST_PAUSE_AT;
  if (at !== 'after-journal' && at !== 'after-send') return undefined;
  const nth = Number(env.TANDEM_TEST_PAUSE_ORDER ?? '1');
  let seen = 0;
  return async (point, cOID) => {
    if (point !== at) return;
    seen++;
    if (seen !== nth) return;
    process.stdout.write(`TANDEM-PAUSED ${point} ${cOID}\n`); // synchronous on a pipe (Linux)
    // Freeze the whole process (no event is handled any more), as a crash at this instant would.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
}

export async function buildNode(config: TandemConfig, logger: Logger, flags: EngineRunFlags): Promise<{ node: TradingNode; journal: Journal; client: IbkrClient }> {
  const specs = runnerSpecs(config.strategies);
  const e = config.engine;
  const mode = config.mode;
  const accountId = accountForMode(mode, config.credentials);
  checkAccountForMode(mode, accountId);
  if (mode === 'live') {
    await confirmLive(accountId, { liveEnabled: e.live.enabled, yes: Boolean(flags.yes), interactive: flags.interactive ?? Boolean(process.stdin.isTTY) });
  }
  const client = new IbkrClient({
    ...connectionOptions(e),
    logger,
    dataDir: e.dataDir,
    replyPolicy: { refuseMessageIds: e.execution.refuseMessageIds, suppressAtStart: e.execution.suppressMessageIds },
    // The order manager owns the repeated lookup of a lost placement; the client reads once.
    orderLookupReads: 1,
  });
  const broker = new IbkrBroker({ client, logger });
  const journal = new Journal(e.journal.path);
  const hook = crashHookFromEnv();
  const node = new TradingNode({
    broker, journal, logger, mode, accountId,
    startingCash: e.paper.startingCash,
    strategies: specs,
    risk: {
      maxGrossNotional: e.risk.maxGrossNotional,
      maxPositionNotional: e.risk.maxPositionPerLeg,
      maxDailyLoss: e.risk.maxDailyLoss,
      allowOutsideRth: e.risk.allowOutsideRth,
      maxBarAgeBars: e.risk.maxBarAgeBars,
    },
    marketData: { source: e.marketData.source, pollMs: e.marketData.pollIntervalMs },
    execution: {
      combo: e.execution.pairOrders === 'combo', maxLegRetries: e.execution.legRetries,
      nakedLeg: e.execution.nakedLeg, nakedLegTimeoutMs: e.execution.nakedLegTimeoutSeconds * 1000,
    },
    killSwitchFile: e.risk.killSwitchFile,
    maxBars: flags.maxBars,
    exitAfterMs: flags.exitAfterMs,
    flattenOnExit: Boolean(flags.flattenOnExit),
    ...(hook ? { crashHook: hook } : {}),
    ...(flags.onEvent ? { onEvent: flags.onEvent } : {}),
    ...flags.overrides,
  });
  return { node, journal, client };
}
