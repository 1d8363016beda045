/**
 * The backtest runner (docs/strategy.md, "Fills in the backtest", "Equity and metrics"): feeds the
 * same Strategy object the live engine uses one aligned bar at a time, fills its orders at the next
 * bar's open with slippage and commission, marks equity at every close, and accumulates metrics
 * as it goes. Memory: the equity curve (two float64 a bar), the trades and fills; nothing else
 * grows with the number of bars.
 */
import type { LegConfig } from '../strategies/cointegration/params.ts';
import type { CloseReason, Decision, Diagnostics, LegName, LegOrder, OrderSide, PairBar, Strategy, TradeSide } from '../strategies/types.ts';
import { GrowableF64 } from './columns.ts';
import { commission, fillPrice } from './costs.ts';
import { DiagnosticsCounter, type BacktestDiagnostics, type ExplainParams } from './diagnostics.ts';
import { barsPerYear, EquityStats, type Metrics } from './metrics.ts';

export interface BacktestSetup {
  legs: { y: LegConfig; x: LegConfig };
  /** Bar size of the strategy (`5min`, `1d`...), for bars per year. */
  bar: string;
  slippageBps: number;
  startingCash: number;
  /** The strategy's thresholds, so the diagnostics can count signals and say why nothing traded. */
  explain?: ExplainParams;
}

export interface FillRecord {
  time: number;
  leg: LegName;
  symbol: string;
  side: OrderSide;
  qty: number;
  price: number;
  commission: number;
}

/** Why a trade closed: the strategy's reason, or the daily-loss stop of a backtest on the live node. */
export type ExitReason = CloseReason | 'daily-loss';

export interface TradeRecord {
  side: TradeSide;
  entryTime: number;
  entryBar: number;
  exitTime: number | null;
  exitBar: number | null;
  exitReason: ExitReason | null;
  qtyY: number;
  qtyX: number;
  /** Cash flows of the trade's fills (commissions included), plus, if open, its legs at the last close. */
  pnl: number;
}

export interface BacktestResult {
  startingCash: number;
  finalEquity: number;
  metrics: Metrics;
  /** What kept the strategy from trading (warm-up, gate, refusals) and a hint when it never did. */
  diagnostics: BacktestDiagnostics;
  trades: TradeRecord[];
  fills: FillRecord[];
  /** Equity at each aligned bar close: `time[i]` (epoch ms), `equity[i]`. */
  equity: { time: Float64Array; equity: Float64Array };
  bars: number;
}

/**
 * What an observer sees at each aligned bar (for reports and progress). The runner fills the same
 * object at every bar: read it in `onBar`, do not keep it.
 */
export interface BarEvent {
  index: number;
  bar: PairBar;
  /** Equity at this bar's close. */
  equity: number;
  /** Null on the last bar (the strategy is not asked). */
  diagnostics: Diagnostics | null;
  decision: Decision | null;
}

export interface RunOptions {
  onBar?: (e: BarEvent) => void;
}

interface PendingOrder extends LegOrder {
  trade: TradeRecord;
}

export function runBacktest(bars: Iterable<PairBar>, strategy: Strategy, setup: BacktestSetup, opts: RunOptions = {}): BacktestResult {
  const { legs, slippageBps, startingCash } = setup;
  if (!(startingCash > 0) || !Number.isFinite(startingCash)) throw new Error(`startingCash must be a positive number, got ${startingCash}`);
  let cash = startingCash;
  let holdY = 0;
  let holdX = 0;
  let commissions = 0;
  // The orders decided at the last close, filled at this bar's open: one array, emptied a bar.
  const pending: PendingOrder[] = [];
  let openTrade: TradeRecord | null = null;
  const trades: TradeRecord[] = [];
  const fills: FillRecord[] = [];
  const eqTime = new GrowableF64();
  const eqValue = new GrowableF64();
  const stats = new EquityStats();
  const why = new DiagnosticsCounter(setup.explain ?? null);
  let lastBar: PairBar | null = null;
  // The strategy's context and the observer's event: one object each, filled at every bar (a
  // million bars made two million objects and boxed numbers otherwise).
  const ctx = { equity: 0 };
  const event: BarEvent = { index: 0, bar: null as unknown as PairBar, equity: 0, diagnostics: null, decision: null };
  const onBar = opts.onBar;

  const it = bars[Symbol.iterator]();
  let next = it.next();
  let index = 0;
  while (!next.done) {
    const bar = next.value;
    next = it.next();
    const isLast = next.done === true;

    // 1. Orders decided at the previous close fill at this bar's open.
    for (let k = 0; k < pending.length; k++) {
      const o = pending[k]!;
      const leg = o.leg === 'y' ? bar.y : bar.x;
      const cfg = legs[o.leg];
      const price = fillPrice(leg.open, o.side, slippageBps);
      const fee = commission(cfg.commission, o.qty, price);
      const signed = o.side === 'BUY' ? o.qty : -o.qty;
      const flow = -signed * price - fee;
      cash += flow;
      o.trade.pnl += flow;
      commissions += fee;
      if (o.leg === 'y') holdY += signed;
      else holdX += signed;
      fills.push({ time: bar.time, leg: o.leg, symbol: cfg.symbol, side: o.side, qty: o.qty, price, commission: fee });
    }
    pending.length = 0;

    // 2. Equity at the close.
    const equity = cash + holdY * bar.y.close + holdX * bar.x.close;
    eqTime.push(bar.time);
    eqValue.push(equity);
    stats.push(equity);

    // 3. The strategy decides at this close, except on the last bar.
    let diagnostics: Diagnostics | null = null;
    let decision: Decision | null = null;
    if (!isLast) {
      ctx.equity = equity;
      const step = strategy.onBar(bar, ctx);
      diagnostics = step.diagnostics;
      decision = step.decision;
      why.observe(diagnostics, decision);
      if (decision.action === 'enter') {
        if (openTrade) throw new Error(`strategy entered ${decision.side} at ${new Date(bar.time).toISOString()} while a trade is open`);
        let qy = 0;
        let qx = 0;
        for (const o of decision.orders) {
          if (o.leg === 'y') qy = o.qty;
          else qx = o.qty;
        }
        openTrade = { side: decision.side, entryTime: bar.time, entryBar: index, exitTime: null, exitBar: null, exitReason: null, qtyY: qy, qtyX: qx, pnl: 0 };
        trades.push(openTrade);
        for (const o of decision.orders) pending.push({ ...o, trade: openTrade });
      } else if (decision.action === 'close') {
        if (!openTrade) throw new Error(`strategy closed at ${new Date(bar.time).toISOString()} without an open trade`);
        openTrade.exitTime = bar.time;
        openTrade.exitBar = index;
        openTrade.exitReason = decision.reason;
        const t = openTrade;
        for (const o of decision.orders) pending.push({ ...o, trade: t });
        openTrade = null;
      }
    }
    if (onBar) {
      event.index = index;
      event.bar = bar;
      event.equity = equity;
      event.diagnostics = diagnostics;
      event.decision = decision;
      onBar(event);
    }
    lastBar = bar;
    index++;
  }

  // A trade still open at the end is marked at the last close.
  if (openTrade && lastBar) openTrade.pnl += holdY * lastBar.y.close + holdX * lastBar.x.close;

  const closed = trades.filter((t) => t.exitReason !== null);
  const wins = closed.filter((t) => t.pnl > 0).length;
  const holding = closed.reduce((s, t) => s + ((t.exitBar as number) - t.entryBar), 0);
  const B = barsPerYear([legs.y.secType, legs.x.secType], setup.bar);
  const finalEquity = stats.count > 0 ? stats.lastEquity : startingCash;
  return {
    startingCash,
    finalEquity,
    metrics: {
      ...stats.summary(startingCash, B),
      trades: trades.length,
      winRate: closed.length > 0 ? wins / closed.length : 0,
      avgHoldingBars: closed.length > 0 ? holding / closed.length : 0,
      commissions,
    },
    diagnostics: why.summary(index, trades.length),
    trades,
    fills,
    equity: { time: eqTime.view(), equity: eqValue.view() },
    bars: index,
  };
}
