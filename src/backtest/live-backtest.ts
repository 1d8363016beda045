/**
 * A backtest on the live trading node: bars from a file go through the same `TradingNode`,
 * `StrategyRunner`, `RiskEngine`, `PairExecutor`, `OrderManager` and `Portfolio` that trade live,
 * against the in-process `SimBroker` (fills at the next bar's open with the strategy spec's
 * slippage, commissions and quantity increments; crypto buys by cash quantity) and an in-memory
 * journal. So a backtest can no longer promise a trade the live engine would refuse: market hours,
 * the session maintenance pause, risk limits, the daily-loss stop, long-only crypto and the crypto
 * cash-quantity rule all apply, and every refusal is counted with its reason.
 *
 * Several strategies (an engine config) run together on one account, as `tandem run` runs them:
 * capital split by `capitalShare`, one set of account risk limits, one daily-loss guard.
 *
 * Clock: bars of all strategies are merged by time. At each time, every strategy with a bar then
 * first announces its legs' next bars to the broker (orders decided at this close fill at their
 * opens), its equity is marked at the closes, then the strategies decide in config order. The last
 * bar of each strategy is only marked (docs/strategy.md: no decision on the last bar).
 *
 * The in-process runner (runner.ts) stays as the fast path of sweeps and walk-forward, where
 * parameters are ranked under the spec's rules alone; docs/strategy.md, "Where backtest and live
 * rules meet", says where the two differ.
 */
import { SimBroker, type ContractFeed, type SimContract } from '../brokers/sim-broker.ts';
import type { NodeEvent, StopReason } from '../engine/events.ts';
import { ACCOUNT, Refusal as RuleRefusal, type RefusalRule, type RiskLimits } from '../engine/risk.ts';
import { runnerSpecs, type RunnerSpec, type StrategyEntry } from '../engine/runner-spec.ts';
import type { Book } from '../engine/portfolio.ts';
import type { StrategyRunner } from '../engine/strategy-runner.ts';
import { TradingNode } from '../engine/trading-node.ts';
import type { Logger } from '../log/logger.ts';
import { MemoryJournal } from '../store/memory-journal.ts';
import type { CointegrationParams } from '../strategies/cointegration/params.ts';
import type { BarContext, Decision, LegName, OhlcvBar, PairBar, StepResult, Strategy } from '../strategies/types.ts';
import { GrowableF64 } from './columns.ts';
import { DiagnosticsCounter, explainParams } from './diagnostics.ts';
import { barsPerYear, EquityStats } from './metrics.ts';
import type { BacktestResult, BarEvent, FillRecord, TradeRecord } from './runner.ts';

export interface LiveBacktestStrategy {
  /** The strategy as the node gets it: name, `strategy:` section, capitalShare, allowSharedContracts. */
  entry: StrategyEntry;
  slippageBps: number;
  /** Its aligned bars, in time order. */
  bars: Iterable<PairBar>;
}

export interface LiveBacktestOptions {
  strategies: LiveBacktestStrategy[];
  /** The account's starting cash (each strategy sizes from its capitalShare of it, as in paper mode). */
  startingCash: number;
  risk: RiskLimits;
  maxLegRetries?: number;
  /** Pause decisions in the brokerage session's nightly and weekend maintenance windows (live default: yes). */
  pauseForMaintenance?: boolean;
  logger?: Logger;
  /**
   * Every bar of every strategy (reports, progress). The event is one object per strategy, refilled
   * at every bar (a new one a bar cost ~70 bytes of garbage each): copy what you keep.
   */
  onBar?: (strategyId: string, e: BarEvent) => void;
}

/** Decisions the live rules did not execute, grouped. */
export interface Refusal {
  strategyId: string;
  kind: 'marketHours' | 'risk';
  /** The runner's reason, as journalled (first occurrence). */
  reason: string;
  count: number;
}

export interface LiveBacktestResult {
  /** The whole account (the sum of the strategies' books), on the merged time line. */
  account: BacktestResult;
  strategies: { id: string; result: BacktestResult }[];
  /** `end-of-data`, or `daily-loss` when the daily-loss limit flattened and stopped the node. */
  stopReason: StopReason;
  refusals: Refusal[];
}

/** Records the step of each live (not warm-up) bar the runner feeds its strategy. */
class ObservedStrategy implements Strategy {
  readonly type: string;
  last: StepResult | null = null;
  constructor(private readonly inner: Strategy) {
    this.type = inner.type;
  }

  onBar(bar: PairBar, ctx: BarContext): StepResult {
    const step = this.inner.onBar(bar, ctx);
    if (!ctx.warmup) this.last = step;
    return step;
  }

  position() {
    return this.inner.position();
  }

  syncPosition(held: Parameters<Strategy['syncPosition']>[0]) {
    return this.inner.syncPosition(held);
  }

  saveState() {
    return this.inner.saveState();
  }
}

interface Track {
  spec: RunnerSpec;
  params: CointegrationParams;
  conids: { y: number; x: number };
  /** The broker's feeds of the two legs (set once the broker exists). */
  feeds: { y: ContractFeed; x: ContractFeed } | null;
  it: Iterator<PairBar>;
  bar: PairBar | null;
  /** Has a bar at the current time step. */
  due: boolean;
  /**
   * The current bar's legs (y, x), as the runner takes them: one array per strategy, refilled at
   * each bar (the runner is done with the bar before the next one: each decision is awaited).
   */
  legBars: OhlcvBar[];
  next: PairBar | null;
  index: number;
  observer: ObservedStrategy | null;
  why: DiagnosticsCounter;
  stats: EquityStats;
  eqTime: GrowableF64;
  eqValue: GrowableF64;
  equity: number;
  trades: TradeRecord[];
  fills: FillRecord[];
  openTrade: TradeRecord | null;
  /** Cash flows of fills not yet given to a trade (an entry's fills come before the trade is seen), in order. */
  flows: number[];
  commissions: number;
  lastBar: PairBar | null;
  /** The node's runner of this strategy and its book (once the node runs). */
  runner: StrategyRunner | null;
  book: Book | null;
  /** The fill-time boxes of its legs' contracts (y, x). */
  fillAt: [{ time: number }, { time: number }];
  /** Fills booked to it, and how many of them trades have seen. */
  fillCount: number;
  settledFills: number;
  /** The event given to `onBar`, refilled at each of its bars. */
  event: BarEvent;
  /** Its refusals so far, by rule and symbol (null: the rule names none). */
  refusals: Map<RefusalRule, Map<string | null, Refusal>>;
}

const ACCOUNT_ID = 'BACKTEST';
/** Settled orders (and decision rows) the backtest's journal, broker and order manager remember. */
const RECENT_ORDERS = 64;

export async function runLiveBacktest(o: LiveBacktestOptions): Promise<LiveBacktestResult> {
  const { startingCash } = o;
  if (!(startingCash > 0) || !Number.isFinite(startingCash)) throw new Error(`startingCash must be a positive number, got ${startingCash}`);
  const specs = runnerSpecs(o.strategies.map((s) => s.entry));

  // Contracts: one simulated contract per distinct instrument, with its leg's increment, commission and slippage.
  const contracts = new Map<string, SimContract>();
  const conidOf = (leg: CointegrationParams['legs']['y'], slippageBps: number): number => {
    const key = `${leg.symbol}/${leg.secType}/${leg.currency}`;
    let c = contracts.get(key);
    if (!c) {
      c = { conid: 1000 + contracts.size, symbol: leg.symbol, secType: leg.secType, exchange: leg.exchange, currency: leg.currency, qtyIncrement: leg.qtyIncrement, commission: leg.commission, slippageBps };
      contracts.set(key, c);
    }
    return c.conid;
  };

  const tracks: Track[] = specs.map((spec, i) => {
    const input = o.strategies[i]!;
    const params = input.entry.strategy as unknown as CointegrationParams;
    const t: Track = {
      spec, params,
      conids: { y: conidOf(params.legs.y, input.slippageBps), x: conidOf(params.legs.x, input.slippageBps) }, feeds: null,
      it: input.bars[Symbol.iterator](), bar: null, due: false, legBars: [], next: null, index: -1, observer: null,
      why: new DiagnosticsCounter(explainParams(params)), stats: new EquityStats(),
      eqTime: new GrowableF64(), eqValue: new GrowableF64(), equity: spec.capitalShare * startingCash,
      trades: [], fills: [], openTrade: null, flows: [], commissions: 0, lastBar: null, runner: null, book: null,
      fillAt: [{ time: Number.NaN }, { time: Number.NaN }], fillCount: 0, settledFills: 0, refusals: new Map(),
      event: { index: 0, bar: null as unknown as PairBar, equity: 0, diagnostics: null, decision: null },
    };
    const n = t.it.next();
    t.next = n.done ? null : n.value;
    return t;
  });
  // The runners build their strategies through the spec: observe each one's steps.
  const observed = specs.map((spec, i) => ({
    ...spec,
    createStrategy: (state?: Parameters<RunnerSpec['createStrategy']>[0]) => (tracks[i]!.observer = new ObservedStrategy(spec.createStrategy(state))),
  }));

  const broker = new SimBroker({ contracts: [...contracts.values()], accounts: [{ id: ACCOUNT_ID, isPaper: true }], cash: startingCash, keepSettledOrders: RECENT_ORDERS });
  const journal = new MemoryJournal({ keepBars: false, keepOrderEvents: false, keepSettledOrders: RECENT_ORDERS, keepDecisions: RECENT_ORDERS });
  // The time a contract's orders fill at (its next bar's), in a box a contract written at every bar.
  const fillTime = new Map<number, { time: number }>();
  const fillBox = (conid: number): { time: number } => {
    let box = fillTime.get(conid);
    if (!box) fillTime.set(conid, (box = { time: Number.NaN }));
    return box;
  };
  for (const t of tracks) {
    t.fillAt = [fillBox(t.conids.y), fillBox(t.conids.x)];
    t.feeds = { y: broker.feed(t.conids.y), x: broker.feed(t.conids.x) };
  }
  const byId = new Map(tracks.map((t) => [t.spec.id, t]));
  // The market's time (the current bar's start), in a box: read by the node's clock and the fill
  // handler, written at every bar without allocating.
  const clock = { now: -Infinity };
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));

  const onEvent = (e: NodeEvent): void => {
    if (e.type === 'started') started();
    if (e.type !== 'fill') return;
    const t = byId.get(e.strategyId);
    if (!t) return;
    const leg: LegName = e.symbol === t.params.legs.y.symbol ? 'y' : 'x';
    const conid = t.conids[leg];
    const side = e.side === 'BUY' ? 'BUY' : 'SELL';
    t.fillCount++;
    const at = fillTime.get(conid)?.time ?? Number.NaN;
    t.fills.push({ time: Number.isNaN(at) ? clock.now : at, leg, symbol: e.symbol, side, qty: e.qty, price: e.price, commission: e.commission });
    // Added fill by fill, in order, as the spec runner adds them (the same rounding).
    const flow = -(side === 'BUY' ? e.qty : -e.qty) * e.price - e.commission;
    if (t.openTrade) t.openTrade.pnl += flow;
    else t.flows.push(flow);
    t.commissions += e.commission;
  };

  const node = new TradingNode({
    broker, journal, ...(o.logger ? { logger: o.logger } : {}), mode: 'paper', accountId: ACCOUNT_ID, startingCash,
    strategies: observed, risk: o.risk,
    // A combo fills like its two legs at the next open; the simulated broker takes legs.
    execution: { combo: false, maxLegRetries: o.maxLegRetries ?? 2, settleTimeoutMs: 60_000 },
    pauseForMaintenance: o.pauseForMaintenance !== false,
    // A backtest never restarts: no strategy state is journalled (a snapshot copies the price history).
    saveStateEveryBars: Number.MAX_SAFE_INTEGER, saveStates: false, journalBars: false, measureLatency: false,
    // What the node, journal and broker remember of settled orders: a few decisions' worth (the
    // latest decision's orders complete a naked leg); tens of thousands kept slow every collection.
    recentOrders: RECENT_ORDERS,
    portfolioSyncMs: 2_000_000_000, coidPrefix: 'bt',
    marketClock: () => clock.now,
    onEvent, eventTypes: ['started', 'fill'],
  });
  let failed: unknown;
  const running = node.run();
  running.catch((err: unknown) => (failed = err));
  await Promise.race([startedP, running]);
  if (failed !== undefined) throw failed;

  let stopReason: StopReason | null = null;
  const refusals: Refusal[] = [];
  let seenDecisions = journal.decisionCount;

  /** Book changes since the last look: a trade opens when the book leaves flat, closes when it comes back. */
  const settleTrades = (t: Track, bar: PairBar, index: number, decision: Decision | null, reason: TradeRecord['exitReason']): void => {
    const book = t.book!;
    const qy = book.qty(t.conids.y);
    const qx = book.qty(t.conids.x);
    const held = qy !== 0 || qx !== 0;
    if (!t.openTrade && held) {
      const side = decision?.action === 'enter' ? decision.side : qy > 0 || (qy === 0 && qx < 0) ? 'LONG' : 'SHORT';
      t.openTrade = { side, entryTime: bar.time, entryBar: index, exitTime: null, exitBar: null, exitReason: null, qtyY: Math.abs(qy), qtyX: Math.abs(qx), pnl: 0 };
      t.trades.push(t.openTrade);
    }
    if (t.openTrade) {
      for (const f of t.flows) t.openTrade.pnl += f;
      t.flows = [];
      if (!held) {
        t.openTrade.exitTime = bar.time;
        t.openTrade.exitBar = index;
        t.openTrade.exitReason = decision?.action === 'close' ? decision.reason : reason;
        t.openTrade = null;
      }
    }
  };

  for (const t of tracks) {
    t.runner = node.runners.find((r) => r.id === t.spec.id)!;
    t.book = t.runner.book;
  }
  // The bars run in a synchronous loop (`runBars`) that returns only when a bar must be awaited:
  // a million bars in the body of this async function ran slower (after each await it resumes in
  // unoptimised code until on-stack replacement catches up again).
  /** A bar that placed orders made the next bar wait a microtask turn (what its orders left queued runs first). */
  let afterOrders = false;
  /** Where the run stands: the next track to decide at the current time (tracks.length: take the next time). */
  let k = tracks.length;
  /** The track whose bar is being awaited, and whether its own orders are (not only a turn). */
  let waiting: Track | null = null;
  let waitingOrders = false;
  const TURN = Promise.resolve();

  /** Marks every strategy with a bar at the next time; false when no strategy has one left. */
  const nextTime = (): boolean => {
    let now = Infinity;
    for (let i = 0; i < tracks.length; i++) {
      const t = tracks[i]!;
      if (t.next && t.next.time < now) now = t.next.time;
    }
    if (now === Infinity) return false;
    clock.now = now;
    for (let i = 0; i < tracks.length; i++) {
      const t = tracks[i]!;
      t.due = t.next !== null && t.next.time === now;
      if (!t.due) continue;
      const bar = t.next!;
      const n = t.it.next();
      t.next = n.done ? null : n.value;
      t.bar = bar;
      t.index++;
      // Orders decided at the previous close filled at this open already; marks at this close.
      // The broker and the runner take the pair bar's own leg objects, the time given beside.
      t.legBars[0] = bar.y;
      t.legBars[1] = bar.x;
      const feeds = t.feeds!;
      feeds.y.barAt(bar.time, bar.y);
      feeds.x.barAt(bar.time, bar.x);
      const next = t.next;
      t.fillAt[0].time = next?.time ?? bar.time;
      t.fillAt[1].time = next?.time ?? bar.time;
      feeds.y.nextBar(next?.time ?? Number.NaN, next?.y ?? null);
      feeds.x.nextBar(next?.time ?? Number.NaN, next?.x ?? null);
      const book = t.book!;
      t.equity = book.cash + book.qty(t.conids.y) * bar.y.close + book.qty(t.conids.x) * bar.x.close;
      t.eqTime.push(bar.time);
      t.eqValue.push(t.equity);
      t.stats.push(t.equity);
      t.lastBar = bar;
    }
    k = 0;
    return true;
  };

  /** After a track's decision (awaited or not): its step's diagnostics, refusals and trades. */
  const decided = (t: Track): StepResult | null => {
    const step = t.observer?.last ?? null;
    if (step) t.why.observe(step.diagnostics, step.decision);
    if (journal.decisionCount !== seenDecisions) {
      for (const d of journal.decisionsSince(seenDecisions)) if (d.action === 'refused') noteRefusal(t, d.value, refusals);
      seenDecisions = journal.decisionCount;
    }
    return step;
  };

  /** The book moves by fills only: without a new one since the last look, nothing opens or closes. Then the bar's event. */
  const settled = (t: Track, step: StepResult | null): void => {
    const bar = t.bar!;
    if (stopReason === null && t.fillCount !== t.settledFills) {
      t.settledFills = t.fillCount;
      settleTrades(t, bar, t.index, step?.decision ?? null, null);
    }
    barEvent(t, step);
  };

  const barEvent = (t: Track, step: StepResult | null): void => {
    if (!o.onBar) return;
    const e = t.event;
    e.index = t.index;
    e.bar = t.bar!;
    e.equity = t.equity;
    e.diagnostics = step?.diagnostics ?? null;
    e.decision = step?.decision ?? null;
    o.onBar(t.spec.id, e);
  };

  /**
   * Runs bars until one must be awaited (its orders, or the turn after them): returns that promise,
   * with `waiting` set to its track; null once no strategy has a bar left.
   */
  const runBars = (): Promise<void> | null => {
    for (;;) {
      if (k >= tracks.length && !nextTime()) return null;
      for (; k < tracks.length; k++) {
        const t = tracks[k]!;
        if (!t.due) continue;
        if (!t.next || stopReason !== null) {
          barEvent(t, null);
          continue;
        }
        if (t.observer) t.observer.last = null;
        // A bar that decides nothing (or is refused) is done synchronously; one that placed orders is
        // awaited, and the bar after it waits a microtask turn too, as every bar did.
        const pending = t.runner!.closeBar(t.bar!.time, t.legBars, t.bar!);
        if (pending || afterOrders) {
          waiting = t;
          waitingOrders = pending !== undefined;
          return pending ?? TURN;
        }
        settled(t, decided(t));
      }
    }
  };

  try {
    for (let wait = runBars(); wait !== null; wait = runBars()) {
      await wait;
      const t = waiting!;
      afterOrders = waitingOrders;
      const step = decided(t);
      // The account halts only inside a bar that returned a promise (the daily-loss check) or in
      // what such a bar left queued: a bar done synchronously cannot have halted it.
      if (node.risk.state(ACCOUNT) === 'halted' && !node.isStopping) {
        // The daily-loss limit: the node flattens every strategy (fills at the next open) and stops.
        await running;
        stopReason = 'daily-loss';
        for (const u of tracks) if (u.lastBar) settleTrades(u, u.lastBar, u.index, null, 'daily-loss');
      }
      settled(t, step);
      k++;
    }
  } catch (err) {
    // A bar source that fails (a bar stream's reading error, or its restart on rows out of order)
    // ends the run; the node is stopped first so that nothing of it outlives the run.
    if (!node.isStopping) await node.stop('error');
    await running.catch(() => {});
    throw err;
  }
  if (stopReason === null) {
    await node.stop('end-of-data');
    await running;
    stopReason = 'end-of-data';
  }
  if (failed !== undefined) throw failed;

  const strategies = tracks.map((t) => {
    const book = t.book!;
    return { id: t.spec.id, result: finish(t, startingCash * t.spec.capitalShare, book.qty(t.conids.y), book.qty(t.conids.x)) };
  });
  return { account: accountResult(tracks, strategies.map((s) => s.result), startingCash), strategies, stopReason, refusals };
}

/**
 * Counts a refused decision by the rule that refused it (the runner's own verdict, not its wording):
 * one row per rule and symbol, with the first refusal's text. Market hours and the maintenance
 * window are `marketHours`; every other rule is `risk`.
 */
function noteRefusal(t: Track, value: unknown, into: Refusal[]): void {
  // The runner journals every refusal with its Refusal (risk.ts): anything else is a bug here.
  if (!(value instanceof RuleRefusal)) throw new Error(`live backtest: a refused decision of ${t.spec.id} without its rule (${JSON.stringify(value)})`);
  const kind: Refusal['kind'] = value.rule === 'market-closed' || value.rule === 'maintenance' ? 'marketHours' : 'risk';
  t.why.refused(kind);
  let bySymbol = t.refusals.get(value.rule);
  if (!bySymbol) t.refusals.set(value.rule, (bySymbol = new Map()));
  const r = bySymbol.get(value.symbol);
  if (r) r.count++;
  else {
    const row: Refusal = { strategyId: t.spec.id, kind, reason: value.reason, count: 1 };
    bySymbol.set(value.symbol, row);
    into.push(row);
  }
}

function finish(t: Track, startingCash: number, heldY: number, heldX: number): BacktestResult {
  const last = t.lastBar;
  if (t.openTrade) {
    // A trade still open at the end is marked at the last close.
    if (last) t.openTrade.pnl += heldY * last.y.close + heldX * last.x.close;
  }
  const closed = t.trades.filter((x) => x.exitReason !== null);
  const wins = closed.filter((x) => x.pnl > 0).length;
  const holding = closed.reduce((s, x) => s + ((x.exitBar as number) - x.entryBar), 0);
  const B = barsPerYear([t.params.legs.y.secType, t.params.legs.x.secType], t.params.bar);
  const bars = t.index + 1;
  return {
    startingCash,
    finalEquity: t.stats.count > 0 ? t.stats.lastEquity : startingCash,
    metrics: {
      ...t.stats.summary(startingCash, B),
      trades: t.trades.length,
      winRate: closed.length > 0 ? wins / closed.length : 0,
      avgHoldingBars: closed.length > 0 ? holding / closed.length : 0,
      commissions: t.commissions,
    },
    diagnostics: t.why.summary(bars, t.trades.length),
    trades: t.trades,
    fills: t.fills,
    equity: { time: t.eqTime.view(), equity: t.eqValue.view() },
    bars,
  };
}

function accountResult(tracks: Track[], results: BacktestResult[], startingCash: number): BacktestResult {
  if (results.length === 1) return results[0]!;
  const times = [...new Set(results.flatMap((r) => [...r.equity.time]))].sort((a, b) => a - b);
  const pos = results.map(() => 0);
  const cur = results.map((r) => r.startingCash);
  const eqTime = new GrowableF64(times.length + 1);
  const eqValue = new GrowableF64(times.length + 1);
  const stats = new EquityStats();
  const unused = startingCash - results.reduce((s, r) => s + r.startingCash, 0);
  for (const time of times) {
    results.forEach((r, i) => {
      while (pos[i]! < r.equity.time.length && r.equity.time[pos[i]!]! <= time) cur[i] = r.equity.equity[pos[i]!++]!;
    });
    const e = unused + cur.reduce((s, v) => s + v, 0);
    eqTime.push(time);
    eqValue.push(e);
    stats.push(e);
  }
  const trades = results.flatMap((r) => r.trades).sort((a, b) => a.entryTime - b.entryTime);
  const fills = results.flatMap((r) => r.fills).sort((a, b) => a.time - b.time);
  const closed = trades.filter((x) => x.exitReason !== null);
  const p0 = tracks[0]!.params;
  const B = barsPerYear([p0.legs.y.secType, p0.legs.x.secType], p0.bar);
  const sum = (f: (d: BacktestResult['diagnostics']) => number): number => results.reduce((s, r) => s + f(r.diagnostics), 0);
  return {
    startingCash,
    finalEquity: stats.count > 0 ? stats.lastEquity : startingCash,
    metrics: {
      ...stats.summary(startingCash, B),
      trades: trades.length,
      winRate: closed.length > 0 ? closed.filter((x) => x.pnl > 0).length / closed.length : 0,
      avgHoldingBars: closed.length > 0 ? results.reduce((s, r) => s + r.metrics.avgHoldingBars * r.trades.filter((x) => x.exitReason !== null).length, 0) / closed.length : 0,
      commissions: results.reduce((s, r) => s + r.metrics.commissions, 0),
    },
    diagnostics: {
      ...results[0]!.diagnostics,
      bars: times.length,
      barsDecided: sum((d) => d.barsDecided),
      signals: sum((d) => d.signals),
      entries: sum((d) => d.entries),
      refused: { risk: sum((d) => d.refused.risk), marketHours: sum((d) => d.refused.marketHours) },
      hint: trades.length > 0 ? null : results.map((r, i) => `${tracks[i]!.spec.id}: ${r.diagnostics.hint ?? 'traded'}`).join('; '),
    },
    trades,
    fills,
    equity: { time: eqTime.view(), equity: eqValue.view() },
    bars: times.length,
  };
}
