/**
 * The `Broker` over the IBKR Client Portal Web API client (`src/ibkr/`).
 *
 * - Placement goes through `OrdersApi.place` (serialised, reply questions answered per policy, a lost
 *   answer looked up by cOID there first). What the client still cannot decide becomes a
 *   `PlacementUncertainError`, so the order manager looks the cOID up again before doing anything.
 * - Market data: websocket `smd` quotes (the gateway's `_updated` time is the event time), or
 *   snapshots when polling. Orders: websocket `sor`; fills from `/iserver/account/trades` when an
 *   order's filled quantity grows (and `str` frames when the gateway sends them).
 * - Session: `lost`/`restored` of the client's session and the stream's reconnects become
 *   `ConnectionEvent`s for the engine.
 */
import type { IbkrClient } from '../ibkr/client.ts';
import type { LiveOrder, Execution } from '../ibkr/orders.ts';
import {
  OrderOutcomeUnknownError,
  OrderQuestionRefusedError,
  OrderRejectedError as IbkrOrderRejectedError,
} from '../ibkr/errors.ts';
import { z } from 'zod';
import { decode, lenientId, lenientNumber, lenientString, normalizeSide } from '../ibkr/decode.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import {
  OrderRejectedError,
  PlacementUncertainError,
  type AccountInfo,
  type Balance,
  type Broker,
  type BrokerListeners,
  type BrokerOrder,
  type BrokerOrderStatus,
  type ComboOrderRequest,
  type Fill,
  type HistoryBar,
  type Instrument,
  type InstrumentSpec,
  type OrderRequest,
  type PlaceResult,
  type Position,
  type SessionStatus,
  type Tick,
} from './types.ts';

/** Last price, bid, ask, last size. */
const STREAM_FIELDS = ['31', '84', '86', '7059'];

function toStatus(s: string | undefined): BrokerOrderStatus {
  switch (s) {
    case 'PendingSubmit':
    case 'PreSubmitted':
    case 'Submitted':
    case 'PendingCancel':
    case 'Filled':
    case 'Cancelled':
    case 'Inactive':
      return s;
    case 'ApiCancelled':
      return 'Cancelled';
    default:
      return 'Unknown';
  }
}

function toBrokerOrder(o: LiveOrder): BrokerOrder {
  return {
    brokerOrderId: String(o.orderId),
    cOID: o.cOID,
    conid: o.conid ?? 0,
    side: o.side ?? 'BUY',
    totalQty: o.totalSize ?? 0,
    filledQty: o.filledQuantity ?? 0,
    avgPrice: o.avgPrice ?? 0,
    status: toStatus(o.status),
  };
}

function toFill(e: Execution): Fill {
  return {
    execId: e.executionId,
    brokerOrderId: e.orderId === undefined ? '' : String(e.orderId),
    cOID: e.cOID,
    conid: e.conid ?? 0,
    side: e.side ?? 'BUY',
    qty: Math.abs(e.size),
    price: e.price,
    commission: e.commission ?? 0,
    time: e.time ?? Date.now(),
  };
}

/** One execution row of a websocket `str` frame (same keys as /iserver/account/trades). */
const strRowSchema = z.looseObject({
  execution_id: lenientString,
  order_id: lenientId.optional(),
  order_ref: lenientString.optional(),
  conid: lenientId.optional(),
  side: lenientString.optional(),
  size: lenientNumber,
  price: lenientNumber,
  commission: lenientNumber.optional(),
  trade_time_r: lenientNumber.optional(),
  account: lenientString.optional(),
});

/** Decodes the executions of a `str` frame; rows that do not decode are skipped (the poll catches them). */
export function fillsFromStrFrame(args: unknown[], account: string): Fill[] {
  const out: Fill[] = [];
  for (const row of args) {
    try {
      const e = decode(strRowSchema, row, 'ws str');
      if (!e.execution_id || (e.account && e.account !== account)) continue;
      out.push({
        execId: e.execution_id, brokerOrderId: e.order_id === undefined ? '' : String(e.order_id), cOID: e.order_ref,
        conid: e.conid ?? 0, side: normalizeSide(e.side) ?? 'BUY', qty: Math.abs(e.size ?? 0), price: e.price ?? 0,
        commission: e.commission ?? 0, time: e.trade_time_r ?? Date.now(),
      });
    } catch {
      /* not an execution row */
    }
  }
  return out;
}

/**
 * The history period (in days of data) that holds `bars` bars of `barMinutes`: for stocks a day of
 * data is one regular session (390 minutes), for crypto 1440 minutes; 10 % margin.
 */
export function historyPeriodDays(secType: string, barMinutes: number, bars: number): number {
  const minutes = bars * barMinutes * 1.1;
  return Math.max(1, Math.ceil(minutes / (secType === 'CRYPTO' ? 1440 : 390)));
}

function barString(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}min`;
}

export interface IbkrBrokerOptions {
  client: IbkrClient;
  logger?: Logger;
}

export class IbkrBroker implements Broker {
  readonly name = 'ibkr';
  private readonly client: IbkrClient;
  private readonly logger: Logger;
  private account = '';
  private listeners: BrokerListeners = {};
  private readonly seenExec = new Set<string>();
  private readonly filledSeen = new Map<string, number>();
  private readonly execQty = new Map<string, number>();
  private fillFetch: Promise<void> | null = null;
  private wired = false;

  constructor(opts: IbkrBrokerOptions) {
    this.client = opts.client;
    this.logger = opts.logger ?? silentLogger;
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  async accounts(): Promise<AccountInfo[]> {
    const a = await this.client.session.iserverAccounts();
    return a.accounts.map((id) => ({ id, isPaper: a.isPaper ?? /^D[UF]/i.test(id) }));
  }

  useAccount(accountId: string): void {
    this.account = accountId;
  }

  async resolveInstrument(spec: InstrumentSpec): Promise<Instrument> {
    if (spec.conid) return { ...spec, conid: spec.conid };
    const c = await this.client.contracts.resolve({
      symbol: spec.symbol, secType: spec.secType,
      ...(spec.exchange && spec.exchange !== 'SMART' ? { exchange: spec.exchange } : {}), currency: spec.currency,
    });
    return { ...spec, conid: c.conid };
  }

  async balance(): Promise<Balance> {
    const s = await this.client.portfolio.summary(this.account);
    const net = s.netLiquidation;
    if (net === undefined) throw new Error(`the portfolio summary of ${this.account} has no net liquidation value`);
    return { currency: s.currency ?? 'USD', cash: s.totalCash ?? 0, netLiquidation: net };
  }

  async positions(): Promise<Position[]> {
    await this.client.portfolio.invalidate(this.account);
    const ps = await this.client.portfolio.positions(this.account);
    return ps.filter((p) => p.quantity !== 0).map((p) => ({ conid: p.conid, symbol: p.symbol, qty: p.quantity, avgCost: p.avgCost ?? p.avgPrice ?? 0 }));
  }

  async orders(): Promise<BrokerOrder[]> {
    const os = await this.client.orders.liveOrders({ force: true });
    return os.filter((o) => !o.account || o.account === this.account).map(toBrokerOrder);
  }

  async findOrderByCoid(cOID: string): Promise<BrokerOrder | undefined> {
    const o = await this.client.orders.findByClientOrderId(cOID);
    return o ? toBrokerOrder(o) : undefined;
  }

  async placeOrder(req: OrderRequest): Promise<PlaceResult> {
    return this.mapPlacement(req.cOID, () =>
      this.client.orders.place({
        accountId: this.account, conid: req.instrument.conid, side: req.side, type: req.orderType,
        ...(req.quantity !== undefined ? { quantity: req.quantity } : {}),
        ...(req.cashQty !== undefined ? { cashQty: req.cashQty } : {}),
        ...(req.limitPrice !== undefined ? { price: req.limitPrice } : {}),
        tif: req.tif, secType: req.instrument.secType, cOID: req.cOID,
        ...(req.outsideRth ? { outsideRth: true } : {}),
      }),
    );
  }

  async placeCombo(req: ComboOrderRequest): Promise<PlaceResult> {
    return this.mapPlacement(req.cOID, () =>
      this.client.orders.placeCombo({
        accountId: this.account, legs: req.legs.map((l) => ({ conid: l.instrument.conid, ratio: l.ratio })),
        side: req.side, type: req.orderType, quantity: req.quantity, tif: req.tif, cOID: req.cOID,
      }),
    );
  }

  private async mapPlacement(cOID: string, call: () => Promise<{ orderId: number; status: string }>): Promise<PlaceResult> {
    try {
      const r = await call();
      return { brokerOrderId: String(r.orderId), status: toStatus(r.status) };
    } catch (err) {
      if (err instanceof IbkrOrderRejectedError || err instanceof OrderQuestionRefusedError) {
        throw new OrderRejectedError(cOID, err.message);
      }
      if (err instanceof OrderOutcomeUnknownError) throw new PlacementUncertainError(cOID, err.message);
      // Anything else (network, session, 5xx): the order may have gone out; the caller looks it up.
      throw new PlacementUncertainError(cOID, err instanceof Error ? err.message : String(err));
    }
  }

  async cancelOrder(brokerOrderId: string): Promise<void> {
    await this.client.orders.cancel(this.account, Number(brokerOrderId));
  }

  async fills(): Promise<Fill[]> {
    const es = await this.client.orders.trades(1);
    return es.filter((e) => !e.account || e.account === this.account).map(toFill);
  }

  async history(instrument: Instrument, barMinutes: number, bars: number): Promise<HistoryBar[]> {
    const days = historyPeriodDays(instrument.secType, barMinutes, bars);
    const rows = await this.client.marketData.history(instrument.conid, { bar: barString(barMinutes), period: `${days}d` });
    return rows.map((b) => ({ time: b.t, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v }));
  }

  async snapshot(instruments: Instrument[]): Promise<Tick[]> {
    const qs = await this.client.marketData.snapshot(instruments.map((i) => i.conid));
    const out: Tick[] = [];
    for (const q of qs) {
      const price = q.last ?? (q.bid !== undefined && q.ask !== undefined ? (q.bid + q.ask) / 2 : undefined);
      if (price !== undefined && q.updatedAt !== undefined) out.push({ conid: q.conid, time: q.updatedAt, price });
    }
    return out;
  }

  async subscribe(instruments: Instrument[], listeners: BrokerListeners): Promise<void> {
    this.listeners = listeners;
    const stream = this.client.stream;
    if (!this.wired) {
      this.wired = true;
      stream.on('marketData', (q) => {
        if (q.last === undefined || q.updatedAt === undefined) return;
        this.listeners.onTick?.({ conid: q.conid, time: q.updatedAt, price: q.last, ...(q.lastSize !== undefined ? { size: q.lastSize } : {}) });
      });
      stream.on('order', (o) => {
        const bo = toBrokerOrder(o);
        this.listeners.onOrder?.(bo);
        // Executions normally arrive as `str` frames; if they lag the order's filled quantity, read them.
        const prev = this.filledSeen.get(bo.brokerOrderId) ?? 0;
        if (bo.filledQty > prev) {
          this.filledSeen.set(bo.brokerOrderId, bo.filledQty);
          setTimeout(() => {
            const got = this.execQty.get(bo.brokerOrderId) ?? 0;
            if (got + 1e-9 < bo.filledQty) this.fetchFills();
          }, 1_000).unref();
        }
      });
      stream.on('message', (m) => {
        if (m.topic !== 'str' || !Array.isArray(m.args)) return;
        for (const f of fillsFromStrFrame(m.args, this.account)) this.emitFill(f);
      });
      stream.on('reconnected', () => this.listeners.onConnection?.({ kind: 'up' }));
      stream.on('status', (s) => {
        if (s.authenticated === false || s.competing === true) this.listeners.onConnection?.({ kind: 'down', reason: s.competing ? 'competing session' : 'brokerage session ended (sts)' });
      });
      this.client.session.on('lost', (e) => this.listeners.onConnection?.({ kind: 'down', reason: e.reason }));
    }
    await stream.connect();
    for (const i of instruments) stream.subscribeMarketData(i.conid, STREAM_FIELDS);
    stream.subscribeOrders();
    stream.subscribeTrades();
  }

  private emitFill(f: Fill): void {
    if (this.seenExec.has(f.execId)) return;
    this.seenExec.add(f.execId);
    if (f.brokerOrderId) this.execQty.set(f.brokerOrderId, (this.execQty.get(f.brokerOrderId) ?? 0) + f.qty);
    this.listeners.onFill?.(f);
  }

  /** Reads executions (paced by the client) and emits the ones not seen yet. */
  private fetchFills(): void {
    if (this.fillFetch) return;
    this.fillFetch = (async () => {
      try {
        for (const f of await this.fills()) {
          this.emitFill(f);
        }
      } catch (err) {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'reading executions failed');
      } finally {
        this.fillFetch = null;
      }
    })();
  }

  async keepAlive(): Promise<SessionStatus> {
    const t = await this.client.session.tickle();
    const s = t.authStatus ?? (await this.client.session.status());
    return { authenticated: s.authenticated, connected: s.connected, competing: s.competing };
  }

  async reauthenticate(): Promise<void> {
    await this.client.session.ensureBrokerage();
    await this.client.session.iserverAccounts();
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
