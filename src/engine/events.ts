/**
 * What the trading node tells a human (the CLI log, the demo's printout) and what it returns when
 * it stops. Plain data: the node and its runners emit these, the CLI formats them.
 */
import type { Decision } from '../strategies/types.ts';

export type NodeEvent =
  | { type: 'bar'; strategyId: string; time: number; closes: [number, number]; z: number | null; position: string; equity: number; decisionLatencyMs?: number }
  | { type: 'decision'; strategyId: string; time: number; decision: Decision; z: number | null }
  | { type: 'order'; strategyId: string; cOID: string; symbol: string; side: string; qty: number | null; cashQty: number | null; state: string }
  | { type: 'fill'; strategyId: string; cOID: string; symbol: string; side: string; qty: number; price: number; commission: number }
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
