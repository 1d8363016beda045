/**
 * Wiring shared by `tandem run` and `tandem demo`: the resolved config becomes an IBKR client, the
 * IBKR broker, the journal and the engine. The engine itself knows none of these concretely.
 */
import type { TandemConfig } from '../config/load.ts';
import { accountForMode } from '../config/env.ts';
import { IbkrClient } from '../ibkr/client.ts';
import { connectionOptions } from './connection.ts';
import { IbkrBroker } from '../brokers/ibkr-broker.ts';
import { Engine, type EngineEvent, type EngineOptions } from '../engine/engine.ts';
import type { CrashPoint } from '../engine/order-manager.ts';
import { checkAccountForMode, confirmLive } from '../engine/mode-guard.ts';
import type { Logger } from '../log/logger.ts';
import { Journal } from '../store/journal.ts';
import { barMinutes, type CointegrationParams } from '../strategies/cointegration/params.ts';
import { createStrategy } from '../strategies/registry.ts';
import type { StrategyState } from '../strategies/types.ts';
import { UserError } from '../util/errors.ts';

export interface EngineRunFlags {
  yes?: boolean;
  maxBars?: number;
  exitAfterMs?: number;
  flattenOnExit?: boolean;
  interactive?: boolean;
  onEvent?: (e: EngineEvent) => void;
  /** Overrides for tests and the demo (timers, polling). */
  overrides?: Partial<EngineOptions>;
}

/** `90s`, `5m`, `2h`, `1d` or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(text.trim());
  if (!m) throw new UserError(`--exit-after "${text}" is not a duration: use e.g. 90s, 30m, 2h or 1d.`);
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
export function crashHookFromEnv(env: NodeJS.ProcessEnv = process.env): ((p: CrashPoint, cOID: string) => Promise<void>) | undefined {
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

export async function buildEngine(config: TandemConfig, logger: Logger, flags: EngineRunFlags): Promise<{ engine: Engine; journal: Journal; client: IbkrClient }> {
  if (config.strategies.length !== 1) {
    throw new UserError(`the engine runs one strategy per process, but ${config.configFile} names ${config.strategies.length}. Start one engine per strategy (each with its own dataDir).`);
  }
  const sc = config.strategies[0]!;
  if (sc.strategy.type !== 'cointegration') throw new UserError(`${sc.file}: the live engine runs pair strategies of type cointegration, not ${sc.strategy.type}.`);
  const params = sc.strategy as unknown as CointegrationParams;
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
  });
  const broker = new IbkrBroker({ client, logger });
  const journal = new Journal(e.journal.path);
  const hook = crashHookFromEnv();
  const engine = new Engine({
    broker, journal, logger, mode, accountId,
    startingCash: e.paper.startingCash,
    legs: { y: params.legs.y, x: params.legs.x },
    barMinutes: barMinutes(params.bar),
    warmupBars: Math.max(params.lookback, params.gate?.lookback ?? 0) - 1,
    shortMode: params.shortMode,
    createStrategy: (state?: StrategyState) => createStrategy(sc.strategy, state),
    risk: {
      maxGrossNotional: e.risk.maxGrossNotional,
      maxPositionNotional: e.risk.maxPositionPerLeg,
      maxDailyLoss: e.risk.maxDailyLoss,
      allowOutsideRth: e.risk.allowOutsideRth,
    },
    marketData: { source: e.marketData.source, pollMs: e.marketData.pollIntervalMs },
    execution: { combo: e.execution.pairOrders === 'combo', maxLegRetries: e.execution.legRetries },
    killSwitchFile: e.risk.killSwitchFile,
    maxBars: flags.maxBars,
    exitAfterMs: flags.exitAfterMs,
    flattenOnExit: Boolean(flags.flattenOnExit),
    ...(hook ? { crashHook: hook } : {}),
    ...(flags.onEvent ? { onEvent: flags.onEvent } : {}),
    ...flags.overrides,
  });
  return { engine, journal, client };
}
