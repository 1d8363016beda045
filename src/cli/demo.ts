/**
 * `tandem demo` (`npm run demo`): the whole live path in about a minute, with nothing to install or
 * log into. It starts the gateway simulator in-process at a weekday 09:30 New York, runs the
 * ETHA/ETHV cointegration strategy in paper mode through one simulated trading day over real HTTPS
 * and WebSocket, prints each decision, order and fill as it happens, and a summary at the end. The
 * journal goes to a temporary directory that is removed.
 *
 * The strategy file is configs/strategies/demo_etha_ethv.yaml: the shipped ETHA/ETHV pair with
 * shorter parameters (a 24-bar lookback, entry at |z| 1.5, no gate), so a single day has trades to
 * show; the demo says which file it runs.
 *
 * Same seed, same decisions: the simulated clock does not run freely (then which prices the engine
 * sees would depend on when the machine gets round to reading them). It stands still during the
 * start-up (warm-up from the previous session's history) and then moves in steps of one simulated
 * minute: at each step the engine reads both prices (a snapshot over HTTPS, the `poll` market-data
 * path) and finishes that minute's bar, decision and orders (which fill at that minute's prices)
 * before the clock moves on. `--speed` only paces the steps in real time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import type { NodeEvent, NodeSummary } from '../engine/events.ts';
import { UserError } from '../util/errors.ts';
import { packageRoot } from '../util/package-root.ts';

/** The demo's own strategy file: the shipped ETHA/ETHV pair with short parameters (each explained in the file). */
const STRATEGY_FILE = join(packageRoot(), 'configs', 'strategies', 'demo_etha_ethv.yaml');
/** Tuesday 3 March 2026, 09:30 New York (EST, UTC-5). */
const DEMO_START = Date.UTC(2026, 2, 3, 14, 30);
const TRADING_MINUTES = 390;
/** Simulated time per step of the clock: one price read per leg each minute. */
const STEP_MS = 60_000;

export interface DemoOptions {
  speed: number;
  seed: number;
  verbose: boolean;
  out: (line: string) => void;
}

function hhmm(t: number): string {
  return new Date(t).toLocaleTimeString('en-US', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

export async function runDemo(o: DemoOptions): Promise<NodeSummary> {
  const out = o.out;
  // Loaded here, not at the top: `tandem --help` should not pay for the engine (see commands.ts).
  const { loadStrategyFile } = await import('../config/load.ts');
  const { IbkrBroker } = await import('../brokers/ibkr-broker.ts');
  const { runnerSpec } = await import('../engine/runner-spec.ts');
  const { TradingNode } = await import('../engine/trading-node.ts');
  const { startSimulator } = await import('../gateway-sim/index.ts');
  const { IbkrClient } = await import('../ibkr/client.ts');
  const { createLogger, silentLogger } = await import('../log/logger.ts');
  const { Journal } = await import('../store/journal.ts');
  const { barMinutes, cointegrationParamsSchema } = await import('../strategies/cointegration/params.ts');
  const strategyFile = loadStrategyFile(STRATEGY_FILE);
  const params = cointegrationParamsSchema.parse(strategyFile.strategy);
  const dir = mkdtempSync(join(tmpdir(), 'tandem-demo-'));
  const logger = o.verbose ? createLogger({ level: 'info' }) : silentLogger;
  const sim = await startSimulator({ speed: 1, startTime: DEMO_START, seed: o.seed, authenticated: true, profile: 'ideal' });
  sim.core.clock.setSpeed(0); // stands still until the driver moves it (see the file head)
  const client = new IbkrClient({ baseUrl: sim.url, dataDir: dir, logger });
  const journal = new Journal(join(dir, 'journal.sqlite'));
  const barMs = barMinutes(params.bar) * 60_000;
  const realDayMs = (TRADING_MINUTES * 60_000) / o.speed;
  out(`Tandem demo: gateway simulator at ${sim.url} (seed ${o.seed}; simulated clock x${o.speed} in one-minute steps, from ${new Date(DEMO_START).toISOString()} = 09:30 New York)`);
  out(`strategy file ${relative(process.cwd(), STRATEGY_FILE) || STRATEGY_FILE} (${strategyFile.name}): ${params.legs.y.symbol}/${params.legs.x.symbol}, ${params.bar} bars, lookback ${params.lookback}, entry |z| >= ${params.entryZ}, exit ${params.exitZ}, stop ${params.stopZ}; paper account ${sim.accounts.paper}, starting cash 100000`);
  let lastStatus = 0;
  const onEvent = (e: NodeEvent): void => {
    switch (e.type) {
      case 'decision': {
        const d = e.decision;
        const what = d.action === 'enter' ? `ENTER ${d.side}` : d.action === 'close' ? `CLOSE ${d.side} (${d.reason})` : 'none';
        const price = (leg: 'y' | 'x'): string => (e.closes ? ` @ ${e.closes[leg === 'y' ? 0 : 1].toFixed(2)}` : '');
        const legs = d.action === 'none' ? '' : d.orders.map((l) => `${l.side} ${l.qty} ${l.leg === 'y' ? params.legs.y.symbol : params.legs.x.symbol}${price(l.leg)}`).join(', ');
        const beta = e.beta === null || e.beta === undefined ? '' : `  hedge=${e.beta.toFixed(3)}`;
        out(`${hhmm(e.time + barMs)}  decision  ${e.strategyId}  ${what}  z=${e.z === null ? 'n/a' : e.z.toFixed(2)}${beta}  ${legs}`);
        break;
      }
      case 'order':
        out(`         order     ${e.cOID}  ${e.side} ${e.qty ?? `$${e.cashQty}`} ${e.symbol}  -> ${e.state}`);
        break;
      case 'fill':
        out(`         fill      ${e.side} ${e.qty} ${e.symbol} @ ${e.price.toFixed(2)}  commission ${e.commission.toFixed(2)}`);
        break;
      case 'bar':
        if (e.time - lastStatus >= 30 * 60_000) {
          lastStatus = e.time;
          out(`${hhmm(e.time + barMs)}  bar       ${params.legs.y.symbol} ${e.closes[0].toFixed(2)}  ${params.legs.x.symbol} ${e.closes[1].toFixed(2)}  z=${e.z === null ? 'n/a' : e.z.toFixed(2)}  ${e.position}  equity ${e.equity.toFixed(2)}`);
        }
        break;
      case 'warn':
        out(`         warning   ${e.message}`);
        break;
      case 'info':
        out(`         ${e.message}`);
        break;
      case 'started':
        out(`         simulated clock now x${o.speed} in one-minute steps: one trading day in about ${Math.round(realDayMs / 1000)} s`);
        void driveClock().catch((err: unknown) => {
          out(`         the simulated clock stopped: ${err instanceof Error ? err.message : String(err)}`);
          void node.stop('error');
        });
        break;
    }
  };
  const broker = new IbkrBroker({ client, logger });
  /**
   * One simulated minute at a time: move the clock, hand the engine both prices, wait until it has
   * finished with them (bar, decision, orders filled), pace in real time by --speed. Ends after the
   * trading day (the node normally stops first, at --max-bars).
   */
  const driveClock = async (): Promise<void> => {
    const r = node.runners[0]!;
    const legs = [r.legs.y, r.legs.x];
    const end = DEMO_START + TRADING_MINUTES * 60_000;
    for (let t = DEMO_START + STEP_MS; t <= end + 2 * barMs && !node.isStopping; t += STEP_MS) {
      const paced = new Promise((res) => setTimeout(res, STEP_MS / o.speed));
      sim.core.clock.set(t);
      for (const tick of await broker.snapshot(legs)) node.onTick(tick);
      await node.whenIdle();
      await paced;
    }
    if (!node.isStopping) void node.stop('exit-after');
  };
  const node = new TradingNode({
    broker, journal, logger, mode: 'paper', accountId: sim.accounts.paper, startingCash: 100_000,
    strategies: [runnerSpec({ name: strategyFile.name, strategy: params }, 1)],
    risk: { maxGrossNotional: 100_000, maxPositionNotional: 60_000, maxDailyLoss: 2_000, allowOutsideRth: false },
    execution: { settleTimeoutMs: 10_000, maxLegRetries: 2 },
    // Prices come from the clock driver's snapshots (driveClock), not from the node's own poll timer.
    marketData: { source: 'poll', pollMs: 86_400_000 },
    orderPollMs: 500, resolveTimeoutMs: 5_000, portfolioSyncMs: 5_000,
    // The day's last bar that closes (by the next tick's time) is 15:50.
    maxBars: TRADING_MINUTES / barMinutes(params.bar) - 1, shutdownTimeoutMs: 10_000,
    marketClock: () => sim.core.clock.now(),
    onEvent,
  });
  const stopOnSignal = (): void => void node.stop('signal');
  process.once('SIGINT', stopOnSignal);
  try {
    const summary = await node.run();
    const trades = journal.decisions().filter((d) => d.action.startsWith('enter')).length;
    const incidents = journal.incidents();
    out('');
    out(`summary: ${summary.bars} bars (${summary.stopReason}), ${summary.decisions} decisions (${trades} entries), ${summary.orders} orders, ${summary.fills} fills`);
    out(`         equity ${summary.equity.toFixed(2)} from ${summary.startEquity.toFixed(2)} (${(summary.equity - summary.startEquity >= 0 ? '+' : '')}${(summary.equity - summary.startEquity).toFixed(2)}); open positions: ${summary.positions.map((p) => `${p.symbol} ${p.qty}`).join(', ') || 'none'}`);
    out(`         decision latency p50 ${(summary.latencyMs.p50 * 1000).toFixed(0)} us, p99 ${(summary.latencyMs.p99 * 1000).toFixed(0)} us over ${summary.latencyMs.n} bars; incidents: ${incidents.length ? incidents.map((i) => i.kind).join(', ') : 'none'}`);
    return summary;
  } finally {
    process.off('SIGINT', stopOnSignal);
    journal.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the strategy in paper mode against the built-in simulator through one accelerated trading day')
    .option('--speed <x>', 'simulated seconds per real second', '400')
    .option('--seed <n>', 'seed of the simulated market', '7')
    .option('--verbose', 'also print the engine log')
    .action(async (opts: { speed: string; seed: string; verbose?: boolean }) => {
      const speed = Number(opts.speed);
      const seed = Number(opts.seed);
      if (!(speed >= 1 && speed <= 5_000)) throw new UserError(`--speed ${opts.speed}: expected a number from 1 to 5000`, 'TANDEM_BAD_OPTION');
      if (!Number.isInteger(seed)) throw new UserError(`--seed ${opts.seed}: expected an integer`, 'TANDEM_BAD_OPTION');
      const summary = await runDemo({ speed, seed, verbose: Boolean(opts.verbose), out: (l) => process.stdout.write(`${l}\n`) });
      if (summary.stopReason !== 'max-bars' && summary.stopReason !== 'exit-after' && summary.stopReason !== 'signal') {
        throw new UserError(`the demo stopped early (${summary.stopReason}); this is a bug, please report it`, 'TANDEM_INTERNAL');
      }
    });
}
