/**
 * The cointegration pairs strategy (docs/strategy.md): at each aligned bar close it updates the
 * hedge (rolling OLS or Kalman), the spread's z-score and, every `gate.every` bars, the
 * Engle–Granger gate, then runs the FLAT/LONG/SHORT state machine. Pure: no I/O, no clock.
 */
import type {
  BarContext,
  Decision,
  Diagnostics,
  HeldPosition,
  LegOrder,
  PairBar,
  PositionSide,
  StepResult,
  Strategy,
  StrategyPosition,
  StrategyRequirements,
  StrategyState,
  SyncResult,
  TradeSide,
} from '../types.ts';
import { CointegrationGate, type GateState } from './gate.ts';
import { barMinutes, type CointegrationParams } from './params.ts';
import { PriceHistory } from './price-history.ts';
import { sizeEntry } from './sizing.ts';
import { createSpreadModel, type SpreadEstimate, type SpreadModel } from './spread-model.ts';

export const COINTEGRATION_STATE_VERSION = 1;

/** What a saved state holds (JSON). */
export interface CointegrationState extends StrategyState {
  type: 'cointegration';
  version: number;
  /** The parameters that shape the history; a restore with different ones is refused. */
  shape: { transform: string; lookback: number; hedge: string; gateLookback: number | null };
  bars: number;
  history: { x: number[]; y: number[] };
  model: unknown;
  gate: GateState;
  coolingDown: boolean;
  position: StrategyPosition;
}

const FLAT: StrategyPosition = { side: 'FLAT', qtyY: 0, qtyX: 0, entryBar: null, entryTime: null };
/** The decision of most bars: one frozen object, not a new one a bar. */
const NONE: Decision = Object.freeze({ action: 'none' });
/** The gate's diagnostics without a gate: always open. */
const NO_GATE: Diagnostics['gate'] = Object.freeze({ open: true, pValue: null, checkedThisBar: false });

export class CointegrationStrategy implements Strategy {
  readonly type = 'cointegration';
  private readonly history: PriceHistory;
  private model: SpreadModel;
  private readonly gate: CointegrationGate | null;
  /** Number of aligned bars seen; the next bar's index. */
  private bars = 0;
  private coolingDown = false;
  private pos: StrategyPosition = { ...FLAT };
  private lastGate: Diagnostics['gate'] | null = null;

  constructor(
    readonly params: CointegrationParams,
    state?: StrategyState,
  ) {
    const capacity = Math.max(params.lookback, params.gate?.lookback ?? 0);
    this.history = new PriceHistory(capacity);
    this.model = createSpreadModel(params);
    this.gate = params.gate ? new CointegrationGate(params.gate, params.lookback) : null;
    if (state) this.restore(state);
  }

  /** The transform of docs/strategy.md; a price that cannot be transformed is a data error. */
  private transform(close: number, leg: string, time: number): number {
    if (!(close > 0) || !Number.isFinite(close)) {
      throw new Error(`cointegration: ${leg} close ${close} at ${new Date(time).toISOString()} is not a positive number`);
    }
    return this.params.transform === 'log' ? Math.log(close) : close;
  }

  onBar(bar: PairBar, ctx: BarContext): StepResult {
    const p = this.params;
    const t = this.bars;
    const px = this.transform(bar.x.close, 'x', bar.time);
    const py = this.transform(bar.y.close, 'y', bar.time);
    this.bars++;
    this.history.push(px, py);
    const est = this.model.update(px, py);
    const checked = this.gate ? this.gate.maybeCheck(t, this.history) : false;
    const gateOpen = this.gate ? this.gate.open : true;

    const warm = t >= p.lookback - 1;
    const z = warm && est ? est.z : null;
    let decision: Decision = NONE;

    if (warm && !ctx.warmup) {
      // The cool-down ends on the first bar with |z| < exitZ.
      if (this.coolingDown && z !== null && Math.abs(z) < p.exitZ) this.coolingDown = false;
      if (this.pos.side === 'FLAT') {
        if (z !== null && est && gateOpen && !this.coolingDown) decision = this.considerEntry(z, est, bar, ctx, t);
      } else {
        decision = this.considerClose(z, t);
      }
    }

    return { decision, diagnostics: this.diagnostics(t, bar.time, warm ? est : null, checked) };
  }

  private considerEntry(z: number, est: SpreadEstimate, bar: PairBar, ctx: BarContext, t: number): Decision {
    const p = this.params;
    let side: TradeSide | null = null;
    // Crossing entryZ and stopZ on the same bar from FLAT is no entry.
    if (z >= p.entryZ && z < p.stopZ) side = 'SHORT';
    else if (z <= -p.entryZ && z > -p.stopZ) side = 'LONG';
    if (!side) return NONE;
    const q = sizeEntry(p, side, est.beta, bar.y.close, bar.x.close, ctx.equity);
    if (!q) return NONE;
    this.pos = { side, qtyY: q.qtyY, qtyX: q.qtyX, entryBar: t, entryTime: bar.time };
    return { action: 'enter', side, orders: ordersFor(q.qtyY, q.qtyX) };
  }

  private considerClose(z: number | null, t: number): Decision {
    const p = this.params;
    const side = this.pos.side as TradeSide;
    let reason: 'exit' | 'stop' | 'maxHolding' | null = null;
    if (z !== null) {
      if (side === 'LONG') reason = z >= -p.exitZ ? 'exit' : z <= -p.stopZ ? 'stop' : null;
      else reason = z <= p.exitZ ? 'exit' : z >= p.stopZ ? 'stop' : null;
    }
    if (!reason && p.maxHoldingBars !== undefined && this.pos.entryBar !== null && t - this.pos.entryBar >= p.maxHoldingBars) {
      reason = 'maxHolding';
    }
    if (!reason) return NONE;
    if (reason === 'stop') this.coolingDown = true;
    const orders = ordersFor(-this.pos.qtyY, -this.pos.qtyX);
    this.pos = { ...FLAT };
    return { action: 'close', reason, side, orders };
  }

  /** The gate's part of the diagnostics: one object while it stays the same (it changes only when the gate is checked). */
  private gateDiagnostics(checked: boolean): Diagnostics['gate'] {
    const g = this.gate;
    if (!g) return NO_GATE;
    const last = this.lastGate;
    if (last && last.open === g.open && last.pValue === g.pValue && last.checkedThisBar === checked) return last;
    return (this.lastGate = Object.freeze({ open: g.open, pValue: g.pValue, checkedThisBar: checked }));
  }

  private diagnostics(t: number, time: number, est: SpreadEstimate | null, checked: boolean): Diagnostics {
    return {
      bar: t,
      time,
      z: est ? est.z : null,
      beta: est ? est.beta : null,
      alpha: est ? est.alpha : null,
      gate: this.gateDiagnostics(checked),
      coolingDown: this.coolingDown,
      position: this.pos.side,
    };
  }

  position(): StrategyPosition {
    return { ...this.pos };
  }

  /**
   * Adopts the broker's holdings. Same direction as believed: keep the entry bar, take the
   * broker's quantities. Nothing held: FLAT. A different or unexpected position: adopt it with
   * the side its y leg (or, y being flat, its x leg and the long-only rule) implies, entry bar =
   * now, so `maxHoldingBars` counts from the reconciliation.
   */
  syncPosition(held: HeldPosition): SyncResult {
    const before = this.position();
    const qtyY = held.qtyY;
    const qtyX = held.qtyX;
    if (!Number.isFinite(qtyY) || !Number.isFinite(qtyX)) throw new Error('syncPosition: quantities must be finite numbers');
    let side: PositionSide;
    if (qtyY > 0) side = 'LONG';
    else if (qtyY < 0) side = 'SHORT';
    else if (qtyX > 0) side = this.params.shortMode === 'long-only' ? 'SHORT' : before.side === 'FLAT' ? 'SHORT' : before.side;
    else if (qtyX < 0) side = before.side === 'FLAT' ? 'LONG' : before.side;
    else side = 'FLAT';

    if (side === 'FLAT') this.pos = { ...FLAT };
    else if (side === before.side) this.pos = { ...before, qtyY, qtyX };
    else {
      const now = this.bars - 1;
      this.pos = { side, qtyY, qtyX, entryBar: now, entryTime: null };
    }
    const after = this.position();
    return new PositionSync(before, after);
  }

  saveState(): CointegrationState {
    const p = this.params;
    return {
      type: 'cointegration',
      version: COINTEGRATION_STATE_VERSION,
      shape: shapeOf(p),
      bars: this.bars,
      history: this.history.toJSON(),
      model: this.model.saveState(),
      gate: this.gate ? this.gate.saveState() : { open: true, pValue: null },
      coolingDown: this.coolingDown,
      position: this.position(),
    };
  }

  private restore(raw: StrategyState): void {
    if (raw.type !== 'cointegration') throw new Error(`cannot restore a '${raw.type}' state into a cointegration strategy`);
    if (raw.version !== COINTEGRATION_STATE_VERSION) {
      throw new Error(`cointegration state version ${raw.version} is not supported (expected ${COINTEGRATION_STATE_VERSION})`);
    }
    const s = raw as CointegrationState;
    const want = shapeOf(this.params);
    if (JSON.stringify(s.shape) !== JSON.stringify(want)) {
      throw new Error(
        `saved strategy state was made with ${JSON.stringify(s.shape)}, the config now says ${JSON.stringify(want)}: ` +
          'the saved history cannot be reused; delete the saved state to start fresh',
      );
    }
    const n = s.history.x.length;
    if (n !== s.history.y.length || n > this.history.capacity || n > s.bars) throw new Error('saved strategy state has an inconsistent price history');
    for (let i = 0; i < n; i++) this.history.push(s.history.x[i]!, s.history.y[i]!);
    this.bars = s.bars;
    this.model = createSpreadModel(this.params, s.model, this.history);
    if (this.gate) this.gate.restore(s.gate);
    this.coolingDown = Boolean(s.coolingDown);
    this.pos = { ...s.position };
  }
}

function shapeOf(p: CointegrationParams): CointegrationState['shape'] {
  return { transform: p.transform, lookback: p.lookback, hedge: JSON.stringify(p.hedge), gateLookback: p.gate?.lookback ?? null };
}

function ordersFor(qtyY: number, qtyX: number): LegOrder[] {
  const orders: LegOrder[] = [];
  if (qtyY !== 0) orders.push({ leg: 'y', side: qtyY > 0 ? 'BUY' : 'SELL', qty: Math.abs(qtyY) });
  if (qtyX !== 0) orders.push({ leg: 'x', side: qtyX > 0 ? 'BUY' : 'SELL', qty: Math.abs(qtyX) });
  return orders;
}

function describe(p: StrategyPosition): string {
  return p.side === 'FLAT' ? 'FLAT' : `${p.side} (y ${p.qtyY}, x ${p.qtyX})`;
}

/**
 * A sync's outcome, its note written only when read: the live rules sync the strategy back after
 * every refused decision (a backtest outside market hours refuses ~150,000 of 1,000,000 bars), and
 * nobody reads the note unless it is logged or journalled.
 */
class PositionSync implements SyncResult {
  readonly changed: boolean;
  constructor(
    readonly before: StrategyPosition,
    readonly after: StrategyPosition,
  ) {
    this.changed = before.side !== after.side || before.qtyY !== after.qtyY || before.qtyX !== after.qtyX;
  }

  get note(): string {
    return !this.changed ? 'strategy position matches the broker' : `strategy believed ${describe(this.before)}, broker holds ${describe(this.after)}: adopted the broker's position`;
  }
}

export function createCointegrationStrategy(params: CointegrationParams, state?: StrategyState): CointegrationStrategy {
  return new CointegrationStrategy(params, state);
}

/**
 * What the cointegration strategy needs from its driver. Warm-up: max(lookback, gate.lookback) - 1
 * aligned bars, so the first live bar is the first at which it can decide (the hedge and the gate
 * both have a full window) and the warm-up never opens a virtual position.
 */
export function cointegrationRequirements(params: CointegrationParams): StrategyRequirements {
  const leg = (l: CointegrationParams['legs']['y']) => ({ symbol: l.symbol, secType: l.secType, exchange: l.exchange, currency: l.currency, conid: l.conid, qtyIncrement: l.qtyIncrement });
  return {
    legs: { y: leg(params.legs.y), x: leg(params.legs.x) },
    barMinutes: barMinutes(params.bar),
    warmupBars: Math.max(params.lookback, params.gate?.lookback ?? 0) - 1,
    shortMode: params.shortMode,
    barFields: ['close'],
  };
}
