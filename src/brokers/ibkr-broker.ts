/**
 * The `Broker` over the IBKR Client Portal Web API client (`src/ibkr/`).
 *
 * - Placement goes through `OrdersApi.place` (serialised, reply questions answered per policy, a lost
 *   answer looked up by cOID there first). What the client still cannot decide becomes a
 *   `PlacementUncertainError`, so the order manager looks the cOID up again before doing anything.
 * - Market data: websocket `smd` quotes (the gateway's `_updated` time is the event time), or
 *   snapshots when polling. Orders: websocket `sor`; fills from `/iserver/account/trades` when an
 *   order's filled quantity grows (and `str` frames when the gateway sends them).
 * - Executions as the gateway really sends them (src/ibkr/executions.ts): identified by `order_ref`
 *   (our cOID) and `execution_id`, often without `order_id`; a fill whose conid is unknown carries
 *   conid 0 here and the order manager takes the conid from the order it belongs to.
 * - A cOID lookup answers found (order status, live orders, executions) or not found; not found is
 *   never "absent" (live orders come back empty after hours: Voyz/ibind #43).
 * - Session: the client's session owns keep-alive (`/tickle` on its timer) and recovery (re-opening
 *   the brokerage session); this adapter only turns its `lost` / `restored` events and the stream's
 *   reconnects into `ConnectionEvent`s for the trading node. It never tickles or re-logs in itself.
 * - Errors: every IBKR client error is mapped, by its class, to a `BrokerError` with a code and a
 *   retryable flag (the message is kept, so the CLI prints the same text).
 * - Executions seen are remembered in a bounded set (dedupe by execution id; the journal is the
 *   durable dedupe).
 */
import type { IbkrClient } from '../ibkr/client.ts';
import type { LiveOrder } from '../ibkr/orders.ts';
import { toExecutions, type Execution } from '../ibkr/executions.ts';
import {
  ApiError,
  ContractNotFoundError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  NotAuthenticatedError,
  OrderOutcomeUnknownError,
  OrderQuestionRefusedError,
  RateLimitedError,
  ResponseShapeError,
} from '../ibkr/errors.ts';
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import { BoundedMap, BoundedSet } from '../util/bounded.ts';
import {
  BrokerError,
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
  type Tick,
} from './types.ts';

/** Last price, bid, ask, last size, cumulative volume (87 and its exact twin 7762: trade sizes come from it). */
const STREAM_FIELDS = ['31', '84', '86', '7059', '87', '7762'];

/** Maps an error of the IBKR client (by class, never by text) to a `BrokerError`. */
function toBrokerError(err: unknown): unknown {
  if (err instanceof BrokerError || !(err instanceof Error)) return err;
  const o = { cause: err };
  if (err instanceof GatewayTimeoutError || err instanceof GatewayUnreachableError || err instanceof RateLimitedError) {
    return new BrokerError(err.message, 'BROKER_UNAVAILABLE', true, o);
  }
  if (err instanceof ApiError) return new BrokerError(err.message, err.status >= 500 ? 'BROKER_UNAVAILABLE' : 'BROKER_REQUEST_FAILED', err.status >= 500, o);
  if (err instanceof NotAuthenticatedError) return new BrokerError(err.message, 'NOT_AUTHENTICATED', false, o);
  if (err instanceof ContractNotFoundError) return new BrokerError(err.message, 'BROKER_REQUEST_FAILED', false, o);
  if (err instanceof ResponseShapeError) return new BrokerError(err.message, 'BROKER_BAD_ANSWER', true, o);
  return err;
}

/** Runs a client call and rethrows its error as a `BrokerError`. */
async function mapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toBrokerError(err);
  }
}

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
    brokerOrderId: o.orderId ? String(o.orderId) : '',
    cOID: o.cOID,
    conid: o.conid ?? 0,
    side: o.side ?? 'BUY',
    totalQty: o.totalSize ?? 0,
    filledQty: o.filledQuantity ?? 0,
    // Later partial-fill rows carry no avgPrice: undefined, never 0 (the order manager keeps the last).
    avgPrice: o.avgPrice,
    status: toStatus(o.status),
  };
}

function toFill(e: Execution): Fill {
  return {
    execId: e.executionId,
    brokerOrderId: e.orderId === undefined ? '' : String(e.orderId),
    cOID: e.orderRef,
    conid: e.conid ?? 0,
    side: e.side ?? 'BUY',
    qty: Math.abs(e.size),
    price: e.price,
    commission: e.commission ?? 0,
    time: e.time ?? Date.now(),
  };
}

/** Decodes the executions of a `str` frame; rows that do not decode are skipped (the poll catches them). */
function fillsFromStrFrame(args: unknown[], account: string): Fill[] {
  return toExecutions(args, 'ws str').filter((e) => !e.account || e.account === account).map(toFill);
}

/**
 * The history period (in days of data) that holds `bars` bars of `barMinutes`: for stocks a day of
 * data is one regular session (390 minutes), for crypto 1440 minutes; 10 % margin.
 */
function historyPeriodDays(secType: string, barMinutes: number, bars: number): number {
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
  /** Executions already passed on (bounded: old ids fall out; the journal ignores repeats anyway). */
  private readonly seenExec = new BoundedSet<string>(10_000);
  private readonly filledSeen = new BoundedMap<string, number>(10_000);
  private readonly execQty = new BoundedMap<string, number>(10_000);
  private fillFetch: Promise<void> | null = null;
  /** Last seen `C`/`H` state of field 31 per conid (undefined: trading). */
  private readonly tradingState = new Map<number, 'prior-close' | 'halted' | undefined>();
  private wired = false;

  constructor(opts: IbkrBrokerOptions) {
    this.client = opts.client;
    this.logger = opts.logger ?? silentLogger;
  }

  async connect(): Promise<void> {
    await mapped(() => this.client.connect());
  }

  async accounts(): Promise<AccountInfo[]> {
    const a = await mapped(() => this.client.session.iserverAccounts());
    return a.accounts.map((id) => ({ id, isPaper: a.isPaper ?? /^D[UF]/i.test(id) }));
  }

  useAccount(accountId: string): void {
    this.account = accountId;
  }

  async resolveInstrument(spec: InstrumentSpec): Promise<Instrument> {
    if (spec.conid) return { ...spec, conid: spec.conid };
    const c = await mapped(() => this.client.contracts.resolve({
      symbol: spec.symbol, secType: spec.secType,
      ...(spec.exchange && spec.exchange !== 'SMART' ? { exchange: spec.exchange } : {}), currency: spec.currency,
    }));
    return { ...spec, conid: c.conid };
  }

  async balance(): Promise<Balance> {
    const s = await mapped(() => this.client.portfolio.summary(this.account));
    const net = s.netLiquidation;
    if (net === undefined) throw new BrokerError(`the portfolio summary of ${this.account} has no net liquidation value`, 'BROKER_REQUEST_FAILED', false);
    return { currency: s.currency ?? 'USD', cash: s.totalCash ?? 0, netLiquidation: net };
  }

  async positions(): Promise<Position[]> {
    const ps = await mapped(async () => {
      await this.client.portfolio.invalidate(this.account);
      return this.client.portfolio.positions(this.account);
    });
    return ps.filter((p) => p.quantity !== 0).map((p) => ({ conid: p.conid, symbol: p.symbol, qty: p.quantity, avgCost: p.avgCost ?? p.avgPrice ?? 0 }));
  }

  async orders(): Promise<BrokerOrder[]> {
    const os = await mapped(() => this.client.orders.liveOrders({ force: true }));
    return os.filter((o) => !o.account || o.account === this.account).map(toBrokerOrder);
  }

  async findOrderByCoid(cOID: string, brokerOrderId?: string): Promise<BrokerOrder | undefined> {
    const orderId = brokerOrderId && /^\d+$/.test(brokerOrderId) ? Number(brokerOrderId) : undefined;
    const r = await mapped(() => this.client.orders.lookup(cOID, orderId ? { orderId } : {}));
    if (r.kind === 'found') return toBrokerOrder(r.order);
    this.logger.debug({ cOID, reason: r.reason }, 'cOID not found at the broker (not a proof of absence)');
    return undefined;
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
      // The client throws the one rejection class already; it only gets this placement's cOID.
      if (err instanceof OrderRejectedError) throw err.cOID === cOID ? err : new OrderRejectedError(cOID, err.reason, err.duplicate, { endpoint: err.endpoint, cause: err });
      if (err instanceof OrderQuestionRefusedError) throw new OrderRejectedError(cOID, err.message, false, { endpoint: err.endpoint, cause: err });
      // Refused as "already registered" and not visible: it exists (the order manager's duplicate case).
      if (err instanceof OrderOutcomeUnknownError && err.exists) throw new OrderRejectedError(cOID, err.message, true, { cause: err });
      if (err instanceof OrderOutcomeUnknownError) throw new PlacementUncertainError(cOID, err.message, { cause: err });
      // Anything else (network, session, 5xx): the order may have gone out; the caller looks it up.
      throw new PlacementUncertainError(cOID, err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  async cancelOrder(brokerOrderId: string): Promise<void> {
    await mapped(() => this.client.orders.cancel(this.account, Number(brokerOrderId)));
  }

  async fills(): Promise<Fill[]> {
    const es = await mapped(() => this.client.orders.trades(1));
    return es.filter((e) => !e.account || e.account === this.account).map(toFill);
  }

  async history(instrument: Instrument, barMinutes: number, bars: number): Promise<HistoryBar[]> {
    const days = historyPeriodDays(instrument.secType, barMinutes, bars);
    const rows = await mapped(() => this.client.marketData.history(instrument.conid, { bar: barString(barMinutes), period: `${days}d` }));
    return rows.map((b) => ({ time: b.t, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v }));
  }

  async snapshot(instruments: Instrument[]): Promise<Tick[]> {
    const qs = await mapped(() => this.client.marketData.snapshot(instruments.map((i) => i.conid)));
    const out: Tick[] = [];
    for (const q of qs) {
      this.noteTradingState(q.conid, q.lastFlag);
      if (q.lastFlag) continue; // previous close or halted: not a live price
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
        this.noteTradingState(q.conid, q.lastFlag);
        // Any update carries the data source's time, trade or not (the node's market clock).
        if (q.updatedAt !== undefined) this.listeners.onTime?.(q.updatedAt);
        // Only real trades are ticks (the stream marks them); bid/ask-only updates are not.
        if (!q.trade) return;
        this.listeners.onTick?.({ conid: q.conid, time: q.trade.time, price: q.trade.price, ...(q.trade.size !== undefined ? { size: q.trade.size } : {}) });
      });
      stream.on('order', (o) => {
        const bo = toBrokerOrder(o);
        this.listeners.onOrder?.(bo);
        // Executions normally arrive as `str` frames; if they lag the order's filled quantity, read them.
        const key = bo.cOID ?? bo.brokerOrderId;
        const prev = this.filledSeen.get(key) ?? 0;
        if (bo.filledQty > prev) {
          this.filledSeen.set(key, bo.filledQty);
          setTimeout(() => {
            const got = this.execQty.get(key) ?? 0;
            if (got + 1e-9 < bo.filledQty) this.fetchFills();
          }, 1_000).unref();
        }
      });
      stream.on('message', (m) => {
        if (m.topic !== 'str' || !Array.isArray(m.args)) return;
        for (const f of fillsFromStrFrame(m.args, this.account)) this.emitFill(f);
      });
      stream.on('reconnected', () => this.listeners.onConnection?.({ kind: 'up', what: 'stream' }));
      // The session reports loss (tickle, 401, sts push) and recovery; it recovers by itself.
      this.client.session.on('lost', (e) => this.listeners.onConnection?.({ kind: 'down', reason: e.reason }));
      this.client.session.on('restored', () => this.listeners.onConnection?.({ kind: 'up', what: 'session' }));
    }
    await mapped(() => stream.connect());
    for (const i of instruments) stream.subscribeMarketData(i.conid, STREAM_FIELDS);
    stream.subscribeOrders();
    stream.subscribeTrades();
  }

  /**
   * Field 31 prefixed `C` (previous close: no trade today) or `H` (halted) is not a live trade: the
   * instrument is not trading. Said once per change, loudly, so the operator sees why no bars come.
   */
  private noteTradingState(conid: number, flag: 'prior-close' | 'halted' | undefined): void {
    const prev = this.tradingState.get(conid);
    if (prev === flag || (prev === undefined && flag === undefined && this.tradingState.has(conid))) return;
    this.tradingState.set(conid, flag);
    if (flag === 'halted') this.logger.warn({ conid }, 'instrument HALTED (last price prefixed H): not trading; no ticks until it trades again');
    else if (flag === 'prior-close') this.logger.warn({ conid }, 'instrument not trading (last price is the previous close, prefix C): no ticks until it trades');
    else if (prev !== undefined) this.logger.info({ conid }, 'instrument trading again');
  }

  private emitFill(f: Fill): void {
    if (this.seenExec.has(f.execId)) return;
    this.seenExec.add(f.execId);
    const key = f.cOID ?? f.brokerOrderId;
    if (key) this.execQty.set(key, (this.execQty.get(key) ?? 0) + f.qty);
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

  async close(): Promise<void> {
    await this.client.close();
  }
}
