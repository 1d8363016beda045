/**
 * The contract between a pair strategy and whatever drives it: the backtest runner
 * (src/backtest/) and the live engine (src/engine/) feed the SAME strategy object one aligned bar
 * at a time and act on its decisions. A strategy is pure: no I/O, no clock, no broker; everything
 * it knows comes through `onBar`, `syncPosition` and a restored state.
 *
 * Semantics (when a decision fills, what equity means) are in docs/strategy.md.
 */

/** One bar of one instrument. */
export interface OhlcvBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** A field of a bar. */
export type BarField = keyof OhlcvBar;

/** One aligned bar of the pair: both legs have a bar starting at `time` (epoch ms, UTC). */
export interface PairBar {
  time: number;
  y: OhlcvBar;
  x: OhlcvBar;
}

export type LegName = 'y' | 'x';
export type OrderSide = 'BUY' | 'SELL';
export type PositionSide = 'FLAT' | 'LONG' | 'SHORT';
export type TradeSide = Exclude<PositionSide, 'FLAT'>;
export type CloseReason = 'exit' | 'stop' | 'maxHolding';

/** An order on one leg: a positive quantity and a side. */
export interface LegOrder {
  leg: LegName;
  side: OrderSide;
  qty: number;
}

/**
 * What the strategy wants done after the close of a bar. `orders` lists only legs that trade
 * (a long-only position holds one leg). The strategy assumes its orders fill: its own position
 * changes at once; if they don't, the driver says so through `syncPosition`.
 */
export type Decision =
  | { action: 'none' }
  | { action: 'enter'; side: TradeSide; orders: LegOrder[] }
  | { action: 'close'; reason: CloseReason; side: TradeSide; orders: LegOrder[] };

/** The position the strategy believes it holds. Quantities are signed (+ long, − short). */
export interface StrategyPosition {
  side: PositionSide;
  qtyY: number;
  qtyX: number;
  /** Index (aligned-bar count from 0) and time of the bar whose close decided the entry; null when FLAT. */
  entryBar: number | null;
  entryTime: number | null;
}

/** Signed quantities a broker actually holds in the two legs. */
export interface HeldPosition {
  qtyY: number;
  qtyX: number;
}

/** Per-bar figures for logs and charts; null where not computed yet. */
export interface Diagnostics {
  /** Aligned-bar index of this bar (0-based, counted since the strategy started). */
  bar: number;
  time: number;
  z: number | null;
  beta: number | null;
  alpha: number | null;
  gate: { open: boolean; pValue: number | null; checkedThisBar: boolean };
  coolingDown: boolean;
  /** Position after this bar's decision. */
  position: PositionSide;
}

export interface StepResult {
  decision: Decision;
  diagnostics: Diagnostics;
}

/** What the driver tells the strategy alongside each bar; a driver may refill one object for every bar (read it during onBar only). */
export interface BarContext {
  /** Equity at this bar's close: cash plus positions marked at the closes. Sizes entries. */
  equity: number;
  /**
   * History replayed at start-up: update the hedge, z and gate, but decide nothing and leave the
   * position and cool-down untouched (the decision is always `none`).
   */
  warmup?: boolean;
}

/** Outcome of a reconciliation with the broker's holdings. */
export interface SyncResult {
  readonly changed: boolean;
  readonly before: StrategyPosition;
  readonly after: StrategyPosition;
  /** What changed, for a log line or an incident (a strategy may make it only when read). */
  readonly note: string;
}

/** A JSON-serialisable snapshot: `type` and `version` let a restore refuse a foreign state. */
export interface StrategyState {
  type: string;
  version: number;
  [key: string]: unknown;
}

/** One leg as a strategy declares it: enough for a driver to resolve the contract and round orders. */
export interface DeclaredLeg {
  symbol: string;
  secType: 'STK' | 'CRYPTO';
  exchange: string;
  currency: string;
  conid?: number | undefined;
  /** Smallest order-quantity step (1 share; 0.0001 coin). */
  qtyIncrement: number;
}

/**
 * What a strategy needs from whatever drives it, declared by its type (the registry's
 * `requirements`): the instruments, the bar size, how many history bars it must see before it can
 * decide (its warm-up), and its short rules. Drivers (the live node through
 * `engine/runner-spec.ts`, the observers) read these and never derive them from params themselves.
 */
export interface StrategyRequirements {
  legs: { y: DeclaredLeg; x: DeclaredLeg };
  /** Bar size in minutes. */
  barMinutes: number;
  /** Aligned bars fed with `warmup: true` before the first bar the strategy can decide on. */
  warmupBars: number;
  /** `hedge` shorts a leg; `long-only` holds only the leg it would buy (crypto). */
  shortMode: 'hedge' | 'long-only';
  /**
   * The bar fields `onBar` reads. A backtest from a bar file stores only these and the ones its
   * fills and marks need (open, close); the others reach the strategy as NaN (their cells are still
   * checked). Declare every field read.
   */
  barFields: readonly BarField[];
}

export interface Strategy {
  readonly type: string;
  /** Feed the next aligned bar (at its close) and get the decision; O(1) amortised per bar. */
  onBar(bar: PairBar, ctx: BarContext): StepResult;
  /** The position the strategy believes it holds. */
  position(): StrategyPosition;
  /** Reconcile with what the broker actually holds (live start-up, after a rejected order...). */
  syncPosition(held: HeldPosition): SyncResult;
  /** A snapshot from which `restore` rebuilds an identical strategy (same decisions from here on). */
  saveState(): StrategyState;
}
