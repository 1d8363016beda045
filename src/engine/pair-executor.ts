/**
 * Turns a strategy decision into orders and sees them through.
 *
 * Two US stock legs can go out as one IBKR combo order (no legging risk). Otherwise the legs are sent
 * back to back (placement is serial at IBKR, but the second leg does not wait for the first to fill)
 * and legging is handled: a leg that is rejected or not filled is retried (new cOID each time) up to
 * a bound; if it still fails, the legs of this decision that did fill are flattened, and the event is
 * logged at error level and journalled as an incident.
 *
 * Crypto market buys are cash-quantity IOC orders (IBKR requires it); crypto sells are quantity IOC.
 */
import type { Logger } from '../log/logger.ts';
import type { Instrument, Side } from '../brokers/types.ts';
import type { JournalOrder } from '../store/journal.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import type { NewOrder, OrderManager } from './order-manager.ts';
import { roundQty } from './portfolio.ts';

export interface ExecLeg {
  name: string;
  instrument: Instrument;
  side: Side;
  qty: number;
  /** Latest price, for crypto cash quantities. */
  price: number;
}

export interface ExecutorOptions {
  /** The strategy whose decisions this executor carries out (its orders and incidents carry it). */
  strategyId: string;
  orders: OrderManager;
  journal: Journal;
  logger: Logger;
  /** Retries of a failed leg before the filled legs are flattened. */
  maxLegRetries: number;
  /** How long one order may take to settle before it is cancelled. */
  settleTimeoutMs: number;
  /** Send two US stock legs as one combo order. */
  useCombo: boolean;
  outsideRth: boolean;
  /** Headroom on crypto cash quantities so the IOC buy gets the wanted units despite a small move. */
  cryptoCashBuffer?: number;
}

export interface ExecResult {
  ok: boolean;
  /** Signed quantity filled per leg name by this execution (flattening included). */
  filled: Record<string, number>;
  flattened: boolean;
  note: string;
}

export function orderFor(leg: { instrument: Instrument; side: Side; qty: number; price: number }, outsideRth: boolean, cashBuffer = 0): NewOrder {
  if (leg.instrument.secType === 'CRYPTO') {
    if (leg.side === 'BUY') {
      const cashQty = Math.round(leg.qty * leg.price * (1 + cashBuffer) * 100) / 100;
      return { instrument: leg.instrument, side: 'BUY', cashQty, orderType: 'MKT', tif: 'IOC' };
    }
    return { instrument: leg.instrument, side: 'SELL', quantity: leg.qty, orderType: 'MKT', tif: 'IOC' };
  }
  return outsideRth
    ? { instrument: leg.instrument, side: leg.side, quantity: leg.qty, orderType: 'MKT', tif: 'DAY', outsideRth }
    : { instrument: leg.instrument, side: leg.side, quantity: leg.qty, orderType: 'MKT', tif: 'DAY' };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class PairExecutor {
  constructor(private readonly o: ExecutorOptions) {}

  async execute(intentId: string, legs: ExecLeg[]): Promise<ExecResult> {
    const filled: Record<string, number> = {};
    for (const l of legs) filled[l.name] = 0;
    if (legs.length === 0) return { ok: true, filled, flattened: false, note: 'nothing to trade' };
    const comboable =
      this.o.useCombo && legs.length === 2 && legs.every((l) => l.instrument.secType === 'STK' && Number.isInteger(l.qty) && l.instrument.currency === 'USD');
    if (comboable) return this.executeCombo(intentId, legs, filled);

    // Back to back: place every leg, then wait for each.
    const placed: JournalOrder[] = [];
    for (const l of legs) placed.push(await this.o.orders.place(this.o.strategyId, intentId, l.name, orderFor(l, this.o.outsideRth, this.o.cryptoCashBuffer)));
    const settled: JournalOrder[] = [];
    for (const p of placed) settled.push(this.o.orders.settledNow(p.cOID) ?? (await this.settleOrCancel(p)));
    legs.forEach((l, i) => (filled[l.name] = signed(l.side, this.filledQty(settled[i]!))));

    // An order whose outcome is unknown may still fill: a retry under a new cOID could double it.
    // (The set is made only when there is one: most decisions have none.)
    let unknown: Set<string> | undefined;
    for (let i = 0; i < legs.length; i++) if (settled[i]!.state === 'unknown') (unknown ??= new Set()).add(legs[i]!.name);

    // Retry legs that came short, each under a new cOID.
    for (const l of legs) {
      for (let attempt = 1; attempt <= this.o.maxLegRetries && !unknown?.has(l.name); attempt++) {
        const missing = roundQty(l.qty - Math.abs(filled[l.name]!));
        if (!(missing > minQty(l.instrument))) break;
        if (l.instrument.secType === 'CRYPTO' && l.side === 'BUY' && Math.abs(filled[l.name]!) > 0) break; // cash-qty fills are approximate
        this.o.logger.warn({ intentId, leg: l.name, symbol: l.instrument.symbol, missing, attempt }, 'leg not filled: retrying');
        const r = await this.settleOrCancel(await this.o.orders.place(this.o.strategyId, intentId, `${l.name}-retry${attempt}`, orderFor({ ...l, qty: missing }, this.o.outsideRth, this.o.cryptoCashBuffer)));
        filled[l.name] = roundQty(filled[l.name]! + signed(l.side, this.filledQty(r)));
        if (r.state === 'unknown') (unknown ??= new Set()).add(l.name);
      }
    }
    if (unknown?.size) {
      const known = unknown;
      const names = legs.filter((l) => known.has(l.name)).map((l) => l.instrument.symbol).join(', ');
      this.o.logger.error({ intentId, unknown: names, filled }, `ORDER OUTCOME UNKNOWN on ${names}: no retry and no flatten until the broker shows it; its fills are booked to this strategy when they appear`);
      this.o.journal.recordIncident('order-unknown', { intentId, legs: names, filled }, this.o.strategyId);
      return { ok: false, filled, flattened: false, note: `order outcome unknown on ${names}` };
    }
    const incomplete = legs.filter((l) => {
      const f = Math.abs(filled[l.name]!);
      if (l.instrument.secType === 'CRYPTO' && l.side === 'BUY') return f <= 0;
      return roundQty(l.qty - f) > minQty(l.instrument);
    });
    if (incomplete.length === 0) return { ok: true, filled, flattened: false, note: 'all legs filled' };

    // Legging failure: flatten whatever this decision did fill, loudly.
    const names = incomplete.map((l) => l.instrument.symbol).join(', ');
    this.o.logger.error({ intentId, incomplete: names, filled }, `LEGGING FAILURE: ${names} could not be filled after ${this.o.maxLegRetries} retries; flattening the filled legs`);
    this.o.journal.recordIncident('legging', { intentId, incomplete: names, filled }, this.o.strategyId);
    for (const l of legs) {
      const q = filled[l.name]!;
      if (Math.abs(q) < minQty(l.instrument)) continue;
      const side: Side = q > 0 ? 'SELL' : 'BUY';
      const r = await this.settleOrCancel(await this.o.orders.place(this.o.strategyId, intentId, `${l.name}-flatten`, orderFor({ instrument: l.instrument, side, qty: Math.abs(q), price: l.price }, this.o.outsideRth, this.o.cryptoCashBuffer)));
      filled[l.name] = roundQty(q + signed(side, this.filledQty(r)));
      if (Math.abs(filled[l.name]!) >= minQty(l.instrument)) {
        this.o.logger.error({ intentId, leg: l.name, left: filled[l.name] }, 'LEGGING FAILURE: flatten incomplete, position left open in the strategy\'s book');
        this.o.journal.recordIncident('flatten-incomplete', { intentId, leg: l.name, left: filled[l.name] }, this.o.strategyId);
      }
    }
    return { ok: false, filled, flattened: true, note: `legging failure on ${names}: filled legs flattened` };
  }

  private async executeCombo(intentId: string, legs: ExecLeg[], filled: Record<string, number>): Promise<ExecResult> {
    const [a, b] = legs as [ExecLeg, ExecLeg];
    const g = gcd(a.qty, b.qty);
    const ra = (a.side === 'BUY' ? 1 : -1) * (a.qty / g);
    const rb = (b.side === 'BUY' ? 1 : -1) * (b.qty / g);
    const label = `${a.instrument.symbol}/${b.instrument.symbol}`;
    const o = await this.o.orders.placeCombo(this.o.strategyId, intentId, {
      legs: [{ instrument: a.instrument, ratio: ra }, { instrument: b.instrument, ratio: rb }],
      quantity: g, side: 'BUY', orderType: 'MKT', tif: 'DAY',
    }, label);
    const r = await this.settleOrCancel(o);
    const units = r.filledQty; // combo units from the status; executions are per leg
    filled[a.name] = ra * units;
    filled[b.name] = rb * units;
    const ok = units === g;
    return { ok, filled, flattened: false, note: ok ? 'combo filled' : `combo ${r.state}, ${units}/${g} units` };
  }

  private filledQty(o: JournalOrder): number {
    return Math.max(o.filledQty, this.o.orders.filledFromFills(o.cOID));
  }

  private async settleOrCancel(o: JournalOrder): Promise<JournalOrder> {
    const r = await this.o.orders.settle(o.cOID, this.o.settleTimeoutMs);
    if (r.state === 'working' || r.state === 'partial') {
      this.o.logger.warn({ cOID: o.cOID, state: r.state }, 'order did not complete in time: cancelling it');
      await this.o.orders.cancel(o.cOID);
      return this.o.orders.settle(o.cOID, this.o.settleTimeoutMs);
    }
    return r;
  }
}

function signed(side: Side, q: number): number {
  return side === 'BUY' ? q : -q;
}

function minQty(i: Instrument): number {
  return i.secType === 'CRYPTO' ? 1e-8 : 0.5;
}
