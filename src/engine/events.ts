/**
 * What the trading node tells a human (the CLI log, the demo's printout) and what it returns when
 * it stops. Plain data: the node and its runners emit these, the CLI formats them.
 */
import type { Decision } from '../strategies/types.ts';
import type { ReasonKind, TradingState } from './risk.ts';

/**
 * Why a scope is not active, with what kind of reason it is: `session` (the brokerage session or
 * stream is lost), `shutdown` (the node is stopping or flattening on exit) or `risk` (kill switch,
 * daily loss, a naked leg, positions in doubt): the halts a trader is alerted to.
 */
export interface TradingReason {
  reason: string;
  state: TradingState;
  kind: ReasonKind;
}

export type NodeEvent =
  | { type: 'bar'; strategyId: string; time: number; closes: [number, number]; z: number | null; position: string; equity: number; decisionLatencyMs?: number }
  | { type: 'decision'; strategyId: string; time: number; decision: Decision; z: number | null; beta?: number | null; closes?: [number, number] }
  | { type: 'order'; strategyId: string; cOID: string; symbol: string; side: string; qty: number | null; cashQty: number | null; state: string }
  | { type: 'fill'; strategyId: string; cOID: string; symbol: string; side: string; qty: number; price: number; commission: number }
  /** The node is running (connected, reconciled, warmed up, subscribed): trading from now on. */
  | { type: 'started'; mode: string; accountId: string; strategies: string[]; time: number }
  /** The brokerage session (or only its stream) went down or came back; `start` is the first connect. */
  | { type: 'session'; state: 'up' | 'down'; what: 'start' | 'session' | 'stream'; reason: string | null; time: number }
  /** A trading state or its reasons changed: the account's (strategyId null) or one strategy's own. */
  | { type: 'trading-state'; strategyId: string | null; state: TradingState; reasons: TradingReason[]; time: number }
  /** Warm-up progress of a strategy (bars of statistics it has / needs before it decides). */
  | { type: 'warmup'; strategyId: string; have: number; need: number }
  /** Whether a strategy's market is open (both legs tradable) at the market's time; when closed, the next open. */
  | { type: 'market'; strategyId: string; open: boolean; marketTime: number; nextOpen: number | null }
  /** The node stops taking decisions (then waits for orders in flight, maybe flattens, closes). */
  | { type: 'stopping'; reason: StopReason; time: number }
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string };

/** `end-of-data`: a backtest ran out of bars. */
export type StopReason = 'max-bars' | 'exit-after' | 'signal' | 'kill-switch' | 'daily-loss' | 'end-of-data' | 'error';

/** Percentiles over the recent window of a latency series (ms); n counts every sample of the run. */
export interface LatencyFigures {
  p50: number;
  p99: number;
  n: number;
}

/** What a run did, per strategy or for the whole node (this run only, not the journal's history). */
interface RunFigures {
  bars: number;
  decisions: number;
  /** Orders placed and fills booked by THIS run. */
  orders: number;
  fills: number;
  equity: number;
  startEquity: number;
  /** Non-zero positions (per strategy: its book; node: the sum of the books). */
  positions: { symbol: string; qty: number }[];
  /** Per-bar decision latency: closing tick received -> decision made, or -> first order handed to the broker. */
  latencyMs: LatencyFigures;
  /** The same, bars with orders only. */
  orderLatencyMs: LatencyFigures;
}

export interface StrategySummary extends RunFigures {
  strategyId: string;
  /** The strategy's cash (paper: its share of startingCash moved by its own fills). */
  cash: number;
  /** Ticks older than a closed bar (ignored), and bar times dropped because a leg had no tick. */
  lateTicks: number;
  droppedBars: number;
}

/**
 * `flatten`: what --flatten-on-exit achieved: `not-requested`, `done`, `market-closed` (refused,
 * positions left), `incomplete` (tried, something still held). Anything but done / not-requested
 * makes the CLI exit non-zero.
 */
export type FlattenOutcome = 'not-requested' | 'done' | 'market-closed' | 'incomplete';

export interface NodeSummary extends RunFigures {
  stopReason: StopReason;
  flatten: FlattenOutcome;
  strategies: StrategySummary[];
  /** Positions at the broker that no strategy of this journal holds (reported, never adopted). */
  foreign: { conid: number; symbol: string; qty: number }[];
  incidents: number;
}
