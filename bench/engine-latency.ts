/**
 * Decision latency inside the engine: from the arrival of the tick that closes a bar to the moment
 * the first order of the decision is handed to the broker (the `Broker` boundary), and, for bars
 * without an order, to the decision itself. Everything real except the far side of the broker: the
 * bar builder, the cointegration strategy, risk checks, the order manager and a real SQLite journal
 * (WAL) in a temp dir. The broker answers at once (acknowledged and filled), so the figures are the
 * engine's own time, not the network's.
 *
 *   npx tsx bench/engine-latency.ts [bars=100000] [FULL|NORMAL]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type {
  AccountInfo, Balance, Broker, BrokerListeners, BrokerOrder, Fill, HistoryBar, Instrument, InstrumentSpec,
  OrderRequest, PlaceResult, Position, Tick,
} from '../src/brokers/types.ts';
import { runnerSpec } from '../src/engine/runner-spec.ts';
import { TradingNode } from '../src/engine/trading-node.ts';
import { Journal } from '../src/store/journal.ts';
import { cointegrationParamsSchema } from '../src/strategies/cointegration/params.ts';

const BARS = Number(process.argv[2] ?? 100_000);
const SYNC = (process.argv[3] ?? 'FULL').toUpperCase() === 'NORMAL' ? 'NORMAL' : 'FULL';
const MIN = 60_000;

/** Regular-hours minute bar starts from a Tuesday 09:30 New York, skipping nights and weekends. */
function* rthMinutes(start: number): Generator<number> {
  let day = start;
  for (;;) {
    const wd = new Date(day).getUTCDay();
    if (wd !== 0 && wd !== 6) for (let i = 0; i < 390; i++) yield day + i * MIN;
    day += 86_400_000;
  }
}

/** A seeded cointegrated pair: x a random walk, y = x plus mean-reverting noise (log prices). */
function pricePath(n: number): { y: number[]; x: number[] } {
  let s = 42;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const y: number[] = [];
  const x: number[] = [];
  let lx = Math.log(25);
  let e = 0;
  for (let i = 0; i < n; i++) {
    lx += 0.0005 * gauss();
    e = 0.9 * e + 0.002 * gauss();
    x.push(Math.exp(lx));
    y.push(Math.exp(lx + 0.01 + e));
  }
  return { y, x };
}

class BenchBroker implements Broker {
  readonly name = 'bench';
  private listeners: BrokerListeners = {};
  private nextId = 1;
  handedAt: number[] = [];
  constructor(private readonly history0: { y: HistoryBar[]; x: HistoryBar[] }) {}
  async connect(): Promise<void> {}
  async accounts(): Promise<AccountInfo[]> {
    return [{ id: 'DU0000001', isPaper: true }];
  }
  useAccount(): void {}
  async resolveInstrument(spec: InstrumentSpec): Promise<Instrument> {
    return { ...spec, conid: spec.symbol === 'YYY' ? 1 : 2 };
  }
  async balance(): Promise<Balance> {
    return { currency: 'USD', cash: 100_000, netLiquidation: 100_000 };
  }
  async positions(): Promise<Position[]> {
    return [];
  }
  async orders(): Promise<BrokerOrder[]> {
    return [];
  }
  async findOrderByCoid(): Promise<BrokerOrder | undefined> {
    return undefined;
  }
  async placeOrder(req: OrderRequest): Promise<PlaceResult> {
    const id = String(this.nextId++);
    const qty = req.quantity ?? 0;
    const conid = req.instrument.conid;
    queueMicrotask(() => {
      this.listeners.onOrder?.({ brokerOrderId: id, cOID: req.cOID, conid, side: req.side, totalQty: qty, filledQty: qty, avgPrice: 25, status: 'Filled' });
      const f: Fill = { execId: `e${id}`, brokerOrderId: id, cOID: req.cOID, conid, side: req.side, qty, price: 25, commission: 1, time: Date.now() };
      this.listeners.onFill?.(f);
    });
    return { brokerOrderId: id, status: 'Submitted' };
  }
  async cancelOrder(): Promise<void> {}
  async fills(): Promise<Fill[]> {
    return [];
  }
  async history(i: Instrument): Promise<HistoryBar[]> {
    return i.conid === 1 ? this.history0.y : this.history0.x;
  }
  async snapshot(): Promise<Tick[]> {
    return [];
  }
  subscribed = false;
  async subscribe(_i: Instrument[], l: BrokerListeners): Promise<void> {
    this.listeners = l;
    this.subscribed = true;
  }
  async close(): Promise<void> {}
}

async function main(): Promise<void> {
  const params = cointegrationParamsSchema.parse({
    type: 'cointegration',
    legs: { y: { symbol: 'YYY', secType: 'STK', exchange: 'SMART' }, x: { symbol: 'XXX', secType: 'STK', exchange: 'SMART' } },
    bar: '1min', lookback: 60, entryZ: 2, exitZ: 0.5, stopZ: 4, sizing: { capitalFraction: 0.5 },
  });
  const warm = params.lookback - 1;
  const times = rthMinutes(Date.UTC(2026, 0, 6, 14, 30));
  const allTimes: number[] = [];
  for (let i = 0; i < warm + BARS + 1; i++) allTimes.push(times.next().value as number);
  const p = pricePath(allTimes.length);
  const hist = (leg: 'y' | 'x'): HistoryBar[] => allTimes.slice(0, warm).map((t, i) => ({ time: t, open: p[leg][i]!, high: p[leg][i]!, low: p[leg][i]!, close: p[leg][i]!, volume: 0 }));
  const broker = new BenchBroker({ y: hist('y'), x: hist('x') });
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
  const journal = new Journal(join(dir, 'journal.sqlite'), { synchronous: SYNC });
  const node = new TradingNode({
    broker, journal, mode: 'paper', accountId: 'DU0000001', startingCash: 100_000,
    strategies: [runnerSpec({ name: 'bench', strategy: params }, 1)],
    risk: { maxGrossNotional: 1e9, maxPositionNotional: 1e9, maxDailyLoss: 1e9, allowOutsideRth: false },
    portfolioSyncMs: 3_600_000, pauseForMaintenance: false, saveStateEveryBars: 1_000,
    orderPollMs: 50,
  });
  const running = node.run();
  // Wait for start-up (warm-up + subscribe).
  while (!broker.subscribed) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  for (let i = warm; i < allTimes.length; i++) {
    const t = allTimes[i]!;
    // Two ticks per leg per bar; the first tick of bar i closes bar i-1.
    node.onTick({ conid: 1, time: t, price: p.y[i]! });
    node.onTick({ conid: 2, time: t + 1, price: p.x[i]! });
    node.onTick({ conid: 1, time: t + 30_000, price: p.y[i]! * 1.0001 });
    node.onTick({ conid: 2, time: t + 30_001, price: p.x[i]! * 0.9999 });
    await node.whenIdle();
  }
  const wall = performance.now() - t0;
  const s = node.summary();
  const { all: lat, orders: ordLat } = node.runners[0]!.latencySamples();
  await node.stop('max-bars');
  await running;
  journal.close();
  rmSync(dir, { recursive: true, force: true });
  const fmt = (xs: number[]): string => {
    const sorted = [...xs].sort((a, b) => a - b);
    const q = (x: number): string => ((sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))] ?? NaN) * 1000).toFixed(1);
    return `p50 ${q(0.5)} us, p99 ${q(0.99)} us, max ${q(1)} us (n=${sorted.length})`;
  };
  process.stdout.write(
    `engine decision latency, ${s.bars} bars, journal synchronous=${SYNC}\n` +
      `  every bar (closing tick -> decision, or -> first order at the Broker), last ${lat.length} bars: ${fmt(lat)}\n` +
      `  bars with orders (closing tick -> first order handed to the Broker):  ${fmt(ordLat)}\n` +
      `  ${s.decisions} decisions, ${s.orders} orders, ${s.fills} fills; wall ${(wall / 1000).toFixed(1)} s (${((s.bars / wall) * 1000).toFixed(0)} bars/s)\n`,
  );
}

await main();
