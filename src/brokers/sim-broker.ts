/**
 * An in-process `Broker` that fills orders by a fill model instead of talking to a gateway: the
 * engine's order manager, pair executor and trading node run against it unchanged, without HTTP,
 * and the backtester can drive the same fills (one fill model for backtest and paper simulation).
 *
 * Fill model (docs/strategy.md, "Fills in the backtest"): an order accepted during a bar fills at
 * the OPEN of the next bar of its contract fed with `bar()`; buys pay open·(1+s), sells get
 * open·(1−s), s = slippageBps/10,000; commissions by the leg's commission model; quantities must be
 * whole multiples of the contract's `qtyIncrement` (a cash-quantity buy is rounded down to one).
 * The broker keeps its own books (positions, cash, executions with ids), so a restart or a lost
 * answer can be resolved against it exactly as against IBKR: by cOID.
 *
 * Backtests know the next bar before the strategy decides on the current one: `nextBar(conid, bar)`
 * announces it, and an order accepted afterwards fills at that bar's open as soon as it is accepted
 * (the same price and time as `bar()` would give it, without the driver having to wait for the
 * executor between two bars).
 *
 * Faults a test can ask for: `rejectWhen` (refuse an order), `loseNextAnswer` (place the order but
 * throw `PlacementUncertainError`, as a timeout after sending would), `failNextPlacement` (throw
 * `PlacementUncertainError` without placing), `dropSession` / `restoreSession`.
 */
import { commission as commissionOf, fillPrice } from '../backtest/costs.ts';
import { DEFAULT_COMMISSION, DEFAULT_QTY_INCREMENT, type CommissionModel } from '../strategies/cointegration/params.ts';
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
  type Fill,
  type HistoryBar,
  type Instrument,
  type InstrumentSpec,
  type OrderRequest,
  type PlaceResult,
  type Position,
  type Tick,
} from './types.ts';

export interface SimContract extends Instrument {
  qtyIncrement?: number;
  commission?: CommissionModel;
  /** Slippage of this contract's fills (default: the broker's `slippageBps`). */
  slippageBps?: number;
}

export interface SimBrokerOptions {
  contracts: SimContract[];
  accounts?: AccountInfo[];
  /** Starting cash of the simulated account. */
  cash?: number;
  slippageBps?: number;
  /** History per conid (oldest first), served by `history()`. */
  history?: Map<number, HistoryBar[]>;
  /** Refuse an order: return the broker's reason, or undefined to accept it. */
  rejectWhen?: (req: OrderRequest) => string | undefined;
  /**
   * Backtests: remember only this many settled orders (with their executions and placements); older
   * ones are forgotten, as a broker's order history ends somewhere. Default: all of them. A long
   * backtest places tens of thousands of orders that nobody asks about once they are filled.
   */
  keepSettledOrders?: number;
}

interface SimOrder {
  brokerOrderId: string;
  req: OrderRequest;
  status: BrokerOrderStatus;
  filledQty: number;
  avgPrice: number;
  text?: string;
}

const TERMINAL: ReadonlySet<BrokerOrderStatus> = new Set(['Filled', 'Cancelled', 'Inactive']);

/** What the broker keeps per contract (one lookup a bar, not one per map). */
/** One contract's bar feed in a backtest (SimBroker.feed): barAt and nextBar without the conid. */
export interface ContractFeed {
  barAt(time: number, b: OHLCV): void;
  nextBar(time: number, b: OHLCV | null): void;
}

interface ContractSlot {
  contract: SimContract;
  /** Orders not yet in a final state (a bar looks at these only, not at every order ever placed). */
  working: Set<SimOrder>;
  /** The latest bar's close (the mark); null before the first bar. */
  last: { time: number; price: number } | null;
  /** Backtests: the next bar, at whose open orders fill when they are accepted, and its start time. */
  announced: OHLCV | null;
  announcedTime: number;
}

/** A contract's next bar (starting at `time`; null: none), whose open fills its orders from now on. */
function announce(slot: ContractSlot, time: number, b: OHLCV | null): void {
  slot.announced = b;
  slot.announcedTime = time;
}

/** A bar's prices without its time (a backtest's legs: the time is the pair bar's, given beside). */
type OHLCV = Omit<HistoryBar, 'time'>;

export class SimBroker implements Broker {
  readonly name = 'sim';
  private readonly slots = new Map<number, ContractSlot>();
  private readonly orderBook = new Map<string, SimOrder>();
  private readonly byCoid = new Map<string, SimOrder>();
  private readonly executions: Fill[] = [];
  /** Settled orders in the order they settled (`keepSettledOrders`), and the oldest one still kept. */
  private readonly settledOrders: SimOrder[] = [];
  private settledHead = 0;
  private readonly holdings = new Map<number, { qty: number; avgCost: number }>();
  private listeners: BrokerListeners = {};
  private nextId = 1;
  private nextExec = 1;
  private account = '';
  private cash: number;
  private loseAnswer = 0;
  private failPlacement = 0;
  /** Every placement attempt that reached the broker, in order (tests count re-sends with it). */
  readonly placements: string[] = [];

  constructor(private readonly o: SimBrokerOptions) {
    for (const c of o.contracts) this.slots.set(c.conid, { contract: c, working: new Set(), last: null, announced: null, announcedTime: Number.NaN });
    this.cash = o.cash ?? 1_000_000;
  }

  // ---------------------------------------------------------------- session and reference data

  async connect(): Promise<void> {}

  async accounts(): Promise<AccountInfo[]> {
    return this.o.accounts ?? [{ id: 'DU0000001', isPaper: true }];
  }

  useAccount(accountId: string): void {
    this.account = accountId;
  }

  async resolveInstrument(spec: InstrumentSpec): Promise<Instrument> {
    const c = [...this.slots.values()].map((x) => x.contract).find((x) => (spec.conid ? x.conid === spec.conid : x.symbol === spec.symbol && x.secType === spec.secType));
    if (!c) throw new BrokerError(`no simulated contract for ${spec.symbol} (${spec.secType})`, 'BROKER_REQUEST_FAILED', false);
    return { ...spec, conid: c.conid };
  }

  async balance(): Promise<Balance> {
    let net = this.cash;
    for (const [conid, h] of this.holdings) net += h.qty * (this.slots.get(conid)?.last?.price ?? h.avgCost);
    return { currency: 'USD', cash: this.cash, netLiquidation: net };
  }

  async positions(): Promise<Position[]> {
    return [...this.holdings.entries()].filter(([, h]) => h.qty !== 0).map(([conid, h]) => ({ conid, symbol: this.slots.get(conid)?.contract.symbol, qty: h.qty, avgCost: h.avgCost }));
  }

  async history(instrument: Instrument, _barMinutes: number, bars: number): Promise<HistoryBar[]> {
    return (this.o.history?.get(instrument.conid) ?? []).slice(-bars);
  }

  async snapshot(instruments: Instrument[]): Promise<Tick[]> {
    return instruments.flatMap((i) => {
      const c = this.slots.get(i.conid)?.last;
      return c ? [{ conid: i.conid, time: c.time, price: c.price }] : [];
    });
  }

  async subscribe(_instruments: Instrument[], listeners: BrokerListeners): Promise<void> {
    this.listeners = listeners;
  }

  async close(): Promise<void> {}

  /** The session is lost / restored (the node halts, then reconciles). */
  dropSession(reason = 'simulated session loss'): void {
    this.listeners.onConnection?.({ kind: 'down', reason });
  }

  restoreSession(): void {
    this.listeners.onConnection?.({ kind: 'up', what: 'session' });
  }

  // ---------------------------------------------------------------- orders

  /** The next placement is placed but its answer is lost (a timeout after sending). */
  loseNextAnswer(n = 1): void {
    this.loseAnswer += n;
  }

  /** The next placement fails before it reaches the book (connection refused). */
  failNextPlacement(n = 1): void {
    this.failPlacement += n;
  }

  async placeOrder(req: OrderRequest): Promise<PlaceResult> {
    if (this.failPlacement > 0) {
      this.failPlacement--;
      throw new PlacementUncertainError(req.cOID, 'connection reset before the answer (simulated)');
    }
    this.placements.push(req.cOID);
    if (this.byCoid.has(req.cOID)) throw new OrderRejectedError(req.cOID, `Order with this client order id ${req.cOID} is already registered`, true);
    const slot = this.slots.get(req.instrument.conid);
    const contract = slot?.contract;
    const reason = !contract ? `unknown contract ${req.instrument.conid}` : this.o.rejectWhen?.(req) ?? this.sizeProblem(req, contract);
    const brokerOrderId = String(this.nextId++);
    const o: SimOrder = reason
      ? { brokerOrderId, req, status: 'Inactive', filledQty: 0, avgPrice: 0, text: reason }
      : { brokerOrderId, req, status: 'Submitted', filledQty: 0, avgPrice: 0 };
    this.byCoid.set(req.cOID, o);
    this.orderBook.set(o.brokerOrderId, o);
    if (reason) {
      this.settled(o);
      throw new OrderRejectedError(req.cOID, reason);
    }
    const next = slot!.announced;
    if (next) {
      // Backtests: accepted and filled at the announced bar's open at once, before the answer (as a
      // stream's fill can come before the placement's answer); its statuses: Filled (or Cancelled).
      this.fill(o, slot!, slot!.announcedTime, next);
    } else {
      slot!.working.add(o);
      queueMicrotask(() => this.listeners.onOrder?.(this.view(o)));
    }
    if (this.loseAnswer > 0) {
      this.loseAnswer--;
      throw new PlacementUncertainError(req.cOID, 'the answer was lost (simulated timeout after sending)');
    }
    return { brokerOrderId: o.brokerOrderId, status: o.status };
  }

  private sizeProblem(req: OrderRequest, c: SimContract): string | undefined {
    if (req.cashQty !== undefined) return req.side === 'BUY' && req.cashQty > 0 ? undefined : 'a cash quantity is for buys only and must be positive';
    const q = req.quantity ?? 0;
    const inc = increment(c);
    if (!(q > 0)) return 'quantity must be positive';
    if (Math.abs(Math.round(q / inc) * inc - q) > 1e-9) return `quantity ${q} is not a multiple of the increment ${inc}`;
    return undefined;
  }

  async cancelOrder(brokerOrderId: string): Promise<void> {
    const o = this.orderBook.get(brokerOrderId);
    if (!o) throw new BrokerError(`no order ${brokerOrderId}`, 'BROKER_REQUEST_FAILED', false);
    if (TERMINAL.has(o.status)) return;
    o.status = 'Cancelled';
    this.slots.get(o.req.instrument.conid)?.working.delete(o);
    this.settled(o);
    queueMicrotask(() => this.listeners.onOrder?.(this.view(o)));
  }

  async orders(): Promise<BrokerOrder[]> {
    return [...this.orderBook.values()].map((o) => this.view(o));
  }

  async findOrderByCoid(cOID: string): Promise<BrokerOrder | undefined> {
    const o = this.byCoid.get(cOID);
    return o ? this.view(o) : undefined;
  }

  async fills(): Promise<Fill[]> {
    return [...this.executions];
  }

  /** Orders not in a final state (tests). */
  working(): BrokerOrder[] {
    return [...this.orderBook.values()].filter((o) => !TERMINAL.has(o.status)).map((o) => this.view(o));
  }


  // ---------------------------------------------------------------- market

  /** A price update: passed on as a tick. */
  tick(t: Tick): void {
    this.listeners.onTick?.(t);
  }

  /**
   * A new bar of one contract: working orders of that contract fill at its open (the fill model),
   * then its close becomes the mark.
   */
  bar(conid: number, b: HistoryBar): void {
    this.barAt(conid, b.time, b);
  }

  /**
   * `bar()` with the bar's start time given beside its prices: a backtest hands over its legs' own
   * objects, not a copy of each with a time (two objects a bar less to collect).
   */
  barAt(conid: number, time: number, b: OHLCV): void {
    const slot = this.slots.get(conid);
    if (!slot) throw new Error(`unknown contract ${conid}`);
    this.barAtSlot(slot, time, b);
  }

  /**
   * Backtests: barAt and nextBar of one contract, its slot found once rather than by conid at
   * every call (a backtest feeds two contracts a bar, for a million bars).
   */
  feed(conid: number): ContractFeed {
    const slot = this.slots.get(conid);
    if (!slot) throw new Error(`unknown contract ${conid}`);
    return {
      barAt: (time, b) => this.barAtSlot(slot, time, b),
      nextBar: (time, b) => announce(slot, time, b),
    };
  }

  private barAtSlot(slot: ContractSlot, time: number, b: OHLCV): void {
    if (slot.working.size) for (const o of [...slot.working]) this.fill(o, slot, time, b);
    const last = slot.last;
    if (last) {
      last.time = time;
      last.price = b.close;
    } else slot.last = { time, price: b.close };
  }

  /**
   * Backtests: the contract's next bar (starting at `time`). Orders of the contract accepted from
   * now on fill at its open right away (as `bar()` would fill them when that bar comes); `null`
   * stops it.
   */
  nextBar(conid: number, time: number, b: OHLCV | null): void {
    const slot = this.slots.get(conid);
    if (slot) announce(slot, time, b);
  }


  private fill(o: SimOrder, slot: ContractSlot, time: number, b: OHLCV): void {
    const c = slot.contract;
    const price = fillPrice(b.open, o.req.side, c.slippageBps ?? this.o.slippageBps ?? 0);
    const inc = increment(c);
    // A cash quantity buys whole increments at the fill price (printed with 12 decimals, as the strategy sizes).
    const qty = o.req.quantity ?? Number((Math.floor((o.req.cashQty ?? 0) / price / inc + 1e-9) * inc).toFixed(12));
    slot.working.delete(o);
    if (!(qty > 0)) {
      o.status = 'Cancelled';
      o.text = 'cash quantity below one increment';
      this.settled(o);
      this.listeners.onOrder?.(this.view(o));
      return;
    }
    const fee = commissionOf(c.commission ?? DEFAULT_COMMISSION[c.secType], qty, price);
    const signed = o.req.side === 'BUY' ? qty : -qty;
    const h = this.holdings.get(c.conid) ?? { qty: 0, avgCost: 0 };
    const next = Math.round((h.qty + signed) * 1e8) / 1e8;
    h.avgCost = next === 0 ? 0 : Math.sign(h.qty) === Math.sign(signed) || h.qty === 0 ? (h.avgCost * Math.abs(h.qty) + price * qty) / Math.abs(next) : Math.sign(next) !== Math.sign(h.qty) ? price : h.avgCost;
    h.qty = next;
    this.holdings.set(c.conid, h);
    this.cash -= signed * price + fee;
    o.filledQty = qty;
    o.avgPrice = price;
    o.status = 'Filled';
    const f: Fill = { execId: `sim-${this.nextExec++}`, brokerOrderId: o.brokerOrderId, cOID: o.req.cOID, conid: c.conid, side: o.req.side, qty, price, commission: fee, time };
    this.executions.push(f);
    this.settled(o);
    this.listeners.onOrder?.(this.view(o));
    this.listeners.onFill?.(f);
  }

  /** An order reached a final state: beyond `keepSettledOrders` later ones, the oldest settled order is forgotten. */
  private settled(o: SimOrder): void {
    const keep = this.o.keepSettledOrders;
    if (keep === undefined) return;
    this.settledOrders.push(o);
    if (this.settledOrders.length - this.settledHead <= keep) return;
    const old = this.settledOrders[this.settledHead++]!;
    this.byCoid.delete(old.req.cOID);
    this.orderBook.delete(old.brokerOrderId);
    // Compacted often enough that nothing forgotten stays referenced for long (it would outlive a
    // young-generation collection and be copied to the old one, for nothing).
    if (this.settledHead >= keep) {
      this.settledOrders.splice(0, this.settledHead);
      this.settledHead = 0;
      // Executions and placements: the most recent ones, about as many as the orders kept.
      if (this.executions.length > 2 * keep) this.executions.splice(0, this.executions.length - keep);
      if (this.placements.length > 2 * keep) this.placements.splice(0, this.placements.length - keep);
    }
  }

  private view(o: SimOrder): BrokerOrder {
    const { req } = o;
    // Two literals, not a spread of a conditional one (an object less per status update).
    return o.text
      ? { brokerOrderId: o.brokerOrderId, cOID: req.cOID, conid: req.instrument.conid, side: req.side, totalQty: req.quantity ?? o.filledQty, filledQty: o.filledQty, avgPrice: o.avgPrice, status: o.status, text: o.text }
      : { brokerOrderId: o.brokerOrderId, cOID: req.cOID, conid: req.instrument.conid, side: req.side, totalQty: req.quantity ?? o.filledQty, filledQty: o.filledQty, avgPrice: o.avgPrice, status: o.status };
  }
}

function increment(c: SimContract): number {
  return c.qtyIncrement ?? DEFAULT_QTY_INCREMENT[c.secType];
}
