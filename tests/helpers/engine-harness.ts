/**
 * Runs the real trading node against the real simulator (HTTPS + WSS on loopback) with a real SQLite
 * journal in a temp dir. Nothing is mocked: the broker is the IBKR broker over the IBKR client, and
 * runners are built by `runnerSpec`, as `tandem run` builds them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IbkrBroker } from '../../src/brokers/ibkr-broker.ts';
import type { NodeEvent, NodeSummary } from '../../src/engine/events.ts';
import { runnerSpec, type RunnerSpec } from '../../src/engine/runner-spec.ts';
import { TradingNode, type NodeOptions } from '../../src/engine/trading-node.ts';
import { startSimulator, type RunningSimulator, type SimOptions } from '../../src/gateway-sim/index.ts';
import { IbkrClient, type IbkrClientOptions } from '../../src/ibkr/client.ts';
import { Journal } from '../../src/store/journal.ts';
import { createLogger } from '../../src/log/logger.ts';
import { cointegrationParamsSchema, type CointegrationParams } from '../../src/strategies/cointegration/params.ts';

/** The simulator's contract ids (docs/simulator.md; ETHA and ETHV are invented there). */
export const SIM_CONID = { ETHA: 900000001, ETHV: 900000002, BTC: 479624278, ETH: 495759171, SPY: 756733 } as const;

/** Tuesday 3 March 2026, 09:30 New York. */
export const DAY_OPEN = Date.UTC(2026, 2, 3, 14, 30);

export function pairParams(over: Record<string, unknown> = {}): CointegrationParams {
  return cointegrationParamsSchema.parse({
    type: 'cointegration',
    legs: { y: { symbol: 'ETHA', secType: 'STK', exchange: 'SMART' }, x: { symbol: 'ETHV', secType: 'STK', exchange: 'SMART' } },
    bar: '5min', lookback: 20, entryZ: 1.2, exitZ: 0.2, stopZ: 3.5, sizing: { capitalFraction: 0.5 },
    ...over,
  });
}

/** A crypto pair (BTC/ETH on PAXOS, long-only) with short parameters, for two-strategy nodes. */
export function cryptoParams(over: Record<string, unknown> = {}): CointegrationParams {
  return cointegrationParamsSchema.parse({
    type: 'cointegration',
    legs: { y: { symbol: 'BTC', secType: 'CRYPTO', exchange: 'PAXOS' }, x: { symbol: 'ETH', secType: 'CRYPTO', exchange: 'PAXOS' } },
    bar: '5min', lookback: 20, entryZ: 1.0, exitZ: 0.2, stopZ: 3.5, sizing: { capitalFraction: 0.5 }, shortMode: 'long-only',
    ...over,
  });
}

/** A runner spec as `tandem run` builds it (name = strategy id, capital share). */
export function spec(name: string, params: CointegrationParams, capitalShare = 1): RunnerSpec {
  return runnerSpec({ name, strategy: params }, capitalShare);
}

export interface Harness {
  sim: RunningSimulator;
  dir: string;
  journalFile: string;
  events: NodeEvent[];
  /** A node with one strategy (`params`, id 'pair') or the given `strategies`. */
  newNode(opts?: Partial<NodeOptions> & { params?: CointegrationParams; accountId?: string; clientTimeoutMs?: number; client?: Partial<IbkrClientOptions> }): { node: TradingNode; journal: Journal; client: IbkrClient };
  /** Switches the simulated clock to the fast speed (after the engine's start-up). */
  go(speed: number): void;
  close(): Promise<void>;
}

/**
 * The harness's risk limits. risk.maxBarAgeBars stays at its real default (1): a node that lags
 * behind the accelerated clock (a loaded machine, faults) refuses stale decisions and catches up,
 * as it would live. A test that compares decisions with a backtest allows older bars itself.
 */
export const HARNESS_RISK = { maxGrossNotional: 200_000, maxPositionNotional: 120_000, maxDailyLoss: 50_000, allowOutsideRth: false };

export async function startHarness(simOpts: SimOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ speed: 1, startTime: DAY_OPEN, seed: 7, authenticated: true, profile: 'ideal', ...simOpts });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-engine-test-'));
  const journalFile = join(dir, 'journal.sqlite');
  const events: NodeEvent[] = [];
  const open: { journal: Journal; client: IbkrClient; node: TradingNode }[] = [];
  return {
    sim, dir, journalFile, events,
    newNode(opts = {}) {
      const { params = pairParams(), accountId = sim.accounts.paper, clientTimeoutMs, strategies, client: clientOpts, ...rest } = opts;
      const client = new IbkrClient({
        baseUrl: sim.url, dataDir: dir, retryBaseMs: 50, orderLookupReads: 1, session: { tickleIntervalMs: 1_000 },
        ...(clientTimeoutMs ? { timeoutMs: clientTimeoutMs } : {}),
        ...clientOpts,
      });
      const journal = new Journal(journalFile);
      const logger = process.env.TANDEM_TEST_LOG ? createLogger({ level: process.env.TANDEM_TEST_LOG, file: join(dir, '..', `node-${Date.now()}.log`) }) : undefined;
      const node = new TradingNode({
        broker: new IbkrBroker({ client, ...(logger ? { logger } : {}) }), journal, mode: 'paper', accountId, startingCash: 100_000, ...(logger ? { logger } : {}),
        strategies: strategies ?? [spec('pair', params)],
        risk: HARNESS_RISK,
        execution: { settleTimeoutMs: 20_000, maxLegRetries: 2 },
        orderPollMs: 300, resolveTimeoutMs: 20_000, portfolioSyncMs: 2_000, shutdownTimeoutMs: 10_000,
        marketClock: () => sim.core.clock.now(),
        onEvent: (e) => events.push(e),
        ...rest,
      });
      open.push({ journal, client, node });
      return { node, journal, client };
    },
    go(speed) {
      sim.core.clock.setSpeed(speed);
    },
    async close() {
      for (const o of open) {
        // A node a failed test left running is stopped before its journal closes.
        // (Bounded: the node's own shutdown bound is 10 s; a loaded machine may need more.)
        await Promise.race([o.node.stop('error').catch(() => undefined), new Promise((r) => setTimeout(r, 30_000).unref())]);
        o.journal.close();
        await o.client.close().catch(() => undefined);
      }
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a node to completion, switching the clock to `speed` once it is running. */
export async function runNode(h: Harness, node: TradingNode, speed: number): Promise<NodeSummary> {
  let failed: unknown;
  const running = node.run();
  running.catch((err: unknown) => (failed = err));
  try {
    // Start-up (history for the warm-up) can be slow on a loaded machine.
    await waitFor(() => failed !== undefined || h.events.some((e) => e.type === 'started'), 150_000, 'the node to start');
  } catch (err) {
    await node.stop('error');
    throw err;
  }
  if (failed !== undefined) throw failed;
  h.go(speed);
  return running;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET a /sim/ hook of a simulator (in-process or child) over HTTPS. */
export async function simHook<T>(url: string, path: string, method = 'GET', body?: unknown): Promise<T> {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${url}${path}`, { method: method as 'GET', dispatcher, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    return (await res.body.json()) as T;
  } finally {
    await dispatcher.close();
  }
}
