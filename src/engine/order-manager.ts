/**
 * The order manager: every order gets a client order id (cOID) and is written to the journal
 * BEFORE it is handed to the broker; every status change and fill is journalled as it arrives.
 *
 * State machine (journal `orders.state`):
 *
 *   new ──send──► working ──► partial ──► filled
 *    │              │  └──────────────────► cancelled / rejected
 *    │ (timeout, 5xx, lost answer)
 *    └──► unknown ──lookup by cOID──► working/filled/... (found)  or  rejected (not at the broker)
 *
 * A placement whose answer is lost is never re-sent: the cOID is looked up at the broker (repeatedly,
 * for a bounded time, because a placement answered 503 can still appear a few seconds later). Only
 * when the broker does not know the cOID after that is the order marked rejected, and a retry, if
 * any, goes out under a NEW cOID. A duplicate-cOID rejection means the first send went through: the
 * order is looked up and adopted.
 *
 * One order manager serves every strategy of the node: it owns the cOID sequence, the journal's
 * order rows, the lookup of lost placements (the IBKR client's own lookup is a single read) and
 * the attribution of fills: a fill belongs to the strategy whose order (by cOID, else by broker
 * order id) it fills, and moves that strategy's book. Placement serialisation is the broker's job
 * (IBKR's question/reply chains); this class does not queue placements a second time.
 */
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/logger.ts';
import type { Journal, JournalOrder, JournalOrderState } from '../store/journal.ts';
import { BoundedMap } from '../util/bounded.ts';
import {
  OrderRejectedError,
  type Broker,
  type BrokerOrder,
  type BrokerOrderStatus,
  type ComboOrderRequest,
  type Fill,
  type Instrument,
  type OrderRequest,
} from '../brokers/types.ts';
import type { Holding, Portfolio } from './portfolio.ts';
import { roundQty } from './portfolio.ts';

/** Points around a placement where a test can freeze the process to kill it (crash-safety tests). */
export type CrashPoint = 'after-journal' | 'after-send';

export interface OrderManagerOptions {
  broker: Broker;
  journal: Journal;
  portfolio: Portfolio;
  logger?: Logger;
  /** Prefix of every cOID (identifies this engine instance at the broker). */
  coidPrefix: string;
  /** Fallback polling while waiting for an order (stream updates normally arrive first). */
  pollMs?: number;
  /** How long an unknown placement is looked for before it is declared not placed. */
  resolveTimeoutMs?: number;
  /** Called at crash points (tests): may never resolve, so the test can SIGKILL the process there. */
  crashHook?: (point: CrashPoint, cOID: string) => Promise<void>;
  /** Called right before an order is handed to the broker (latency measurement). */
  beforeSend?: (order: { cOID: string; strategyId: string }) => void;
  /** Called after a fill is journalled and applied to its strategy's book. */
  onFill?: (fill: Fill, order: JournalOrder) => void;
  /** Injected clock for journal timestamps (ms). */
  now?: () => number;
}

export function journalStateOf(status: BrokerOrderStatus, filledQty: number, totalQty: number): JournalOrderState {
  switch (status) {
    case 'Filled':
      return 'filled';
    case 'Cancelled':
      return 'cancelled';
    case 'Inactive':
      return 'rejected';
    default:
      return filledQty > 0 && filledQty < totalQty ? 'partial' : 'working';
  }
}

const TERMINAL: ReadonlySet<JournalOrderState> = new Set(['filled', 'cancelled', 'rejected']);
export function isTerminal(state: JournalOrderState): boolean {
  return TERMINAL.has(state);
}

export type NewOrder = Omit<OrderRequest, 'cOID'>;

export class OrderManager {
  private readonly broker: Broker;
  private readonly journal: Journal;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly resolveTimeoutMs: number;
  private readonly now: () => number;
  private readonly byBrokerId = new BoundedMap<string, string>(10_000);
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly instruments = new Map<number, Instrument>();
  /** Combo orders: leg units per combo unit (executions come per leg, the status in combo units). */
  private readonly comboUnits = new BoundedMap<string, number>(1_000);
  private seq: number;
  private readonly runTag: string;

  constructor(private readonly opts: OrderManagerOptions) {
    this.broker = opts.broker;
    this.journal = opts.journal;
    this.logger = opts.logger ?? silentLogger;
    this.pollMs = opts.pollMs ?? 2_000;
    this.resolveTimeoutMs = opts.resolveTimeoutMs ?? 20_000;
    this.now = opts.now ?? Date.now;
    this.seq = Number(this.journal.getMeta('coidSeq') ?? '0');
    // A run tag keeps cOIDs unique even if two journals share a prefix (IBKR: unique per account for 24 h).
    this.runTag = Date.now().toString(36);
    for (const o of this.journal.openOrders()) if (o.brokerOrderId) this.byBrokerId.set(o.brokerOrderId, o.cOID);
  }

  registerInstrument(i: Instrument): void {
    this.instruments.set(i.conid, i);
  }

  /**
   * The next cOID. Its sequence number is persisted in the same transaction that journals the order
   * (recordNewOrder), before anything is sent, so a restart never reuses one.
   */
  nextCoid(): string {
    this.seq++;
    return `${this.opts.coidPrefix}-${this.runTag}-${this.seq}`;
  }

  /** Orders not yet in a final state (sent or possibly sent). */
  inFlight(): JournalOrder[] {
    return this.journal.openOrders();
  }

  /**
   * Journals and sends one order of a strategy. Returns the journalled order after the broker's
   * answer (or after resolving a lost answer by cOID). Never throws for a broker refusal: the order
   * is `rejected`.
   */
  async place(strategyId: string, intentId: string, leg: string, req: NewOrder): Promise<JournalOrder> {
    const cOID = this.nextCoid();
    this.registerInstrument(req.instrument);
    this.journal.recordNewOrder({
      cOID, strategyId, intentId, leg, conid: req.instrument.conid, symbol: req.instrument.symbol, side: req.side,
      quantity: req.quantity ?? null, cashQty: req.cashQty ?? null, orderType: req.orderType, tif: req.tif,
    }, this.now(), { key: 'coidSeq', value: String(this.seq) });
    await this.opts.crashHook?.('after-journal', cOID);
    return this.send(cOID, strategyId, () => this.broker.placeOrder({ ...req, cOID }));
  }

  async placeCombo(strategyId: string, intentId: string, req: Omit<ComboOrderRequest, 'cOID'>, label: string): Promise<JournalOrder> {
    const placeCombo = this.broker.placeCombo?.bind(this.broker);
    if (!placeCombo) throw new Error(`broker ${this.broker.name} cannot place combo orders`);
    const cOID = this.nextCoid();
    this.journal.recordNewOrder({
      cOID, strategyId, intentId, leg: 'combo', conid: 0, symbol: label, side: req.side, quantity: req.quantity, cashQty: null,
      orderType: req.orderType, tif: req.tif,
    }, this.now(), { key: 'coidSeq', value: String(this.seq) });
    for (const l of req.legs) this.registerInstrument(l.instrument);
    this.comboUnits.set(cOID, req.legs.reduce((sum, l) => sum + Math.abs(l.ratio), 0));
    await this.opts.crashHook?.('after-journal', cOID);
    return this.send(cOID, strategyId, () => placeCombo({ ...req, cOID }));
  }

  private async send(cOID: string, strategyId: string, call: () => Promise<{ brokerOrderId: string; status: BrokerOrderStatus }>): Promise<JournalOrder> {
    try {
      this.opts.beforeSend?.({ cOID, strategyId });
      const res = await call();
      this.byBrokerId.set(res.brokerOrderId, cOID);
      await this.opts.crashHook?.('after-send', cOID);
      const cur = this.journal.order(cOID)!;
      // A stream update may already have moved the order further; never move it backwards.
      if (cur.state === 'new' || cur.state === 'unknown') {
        const total = cur.quantity ?? 0;
        this.journal.updateOrder(cOID, journalStateOf(res.status, 0, total), { brokerOrderId: res.brokerOrderId, detail: { ack: res.status } }, this.now());
      } else if (!cur.brokerOrderId) {
        this.journal.updateOrder(cOID, cur.state, { brokerOrderId: res.brokerOrderId }, this.now());
      }
      this.wake(cOID);
      const sent = this.journal.order(cOID)!;
      this.logger.info({ cOID, strategy: strategyId, symbol: sent.symbol, side: sent.side, qty: sent.quantity, cashQty: sent.cashQty, brokerOrderId: res.brokerOrderId, status: res.status }, 'order sent');
      return sent;
    } catch (err) {
      if (err instanceof OrderRejectedError && !err.duplicate) {
        this.journal.updateOrder(cOID, 'rejected', { error: err.reason }, this.now());
        this.logger.warn({ cOID, reason: err.reason }, 'order rejected by the broker');
        this.wake(cOID);
        return this.journal.order(cOID)!;
      }
      const reason = err instanceof Error ? err.message : String(err);
      this.journal.updateOrder(cOID, 'unknown', { error: reason }, this.now());
      this.logger.warn({ cOID, reason }, 'placement outcome unknown: looking the cOID up at the broker (not re-sending)');
      return this.resolveUnknown(cOID);
    }
  }

  /**
   * Looks an order up by cOID until the broker shows it or the time bound passes. Found: adopt its
   * state. Not found: the order never reached the broker, mark it rejected.
   */
  async resolveUnknown(cOID: string, timeoutMs = this.resolveTimeoutMs): Promise<JournalOrder> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const cur = this.journal.order(cOID);
      if (cur && cur.state !== 'unknown' && cur.state !== 'new') return cur; // a stream update resolved it
      try {
        const found = await this.broker.findOrderByCoid(cOID);
        if (found) {
          this.applyBrokerOrder(found, cOID);
          this.logger.info({ cOID, brokerOrderId: found.brokerOrderId, status: found.status }, 'unknown placement found at the broker by cOID');
          return this.journal.order(cOID)!;
        }
      } catch (err) {
        this.logger.warn({ cOID, err: err instanceof Error ? err.message : String(err) }, 'cOID lookup failed; will retry');
      }
      if (Date.now() >= deadline) break;
      await sleep(Math.min(this.pollMs * (attempt + 1), 5_000));
    }
    this.journal.updateOrder(cOID, 'rejected', { error: 'not found at the broker by cOID after the placement failed: never placed' }, this.now());
    this.logger.warn({ cOID }, 'unknown placement not found at the broker: treated as never placed');
    this.wake(cOID);
    return this.journal.order(cOID)!;
  }

  /** A status update from the stream or a poll. */
  onBrokerOrder(o: BrokerOrder): void {
    const cOID = o.cOID && this.journal.order(o.cOID) ? o.cOID : this.byBrokerId.get(o.brokerOrderId);
    if (!cOID) return; // not ours
    this.applyBrokerOrder(o, cOID);
  }

  private applyBrokerOrder(o: BrokerOrder, cOID: string): void {
    const cur = this.journal.order(cOID);
    if (!cur) return;
    this.byBrokerId.set(o.brokerOrderId, cOID);
    const total = o.totalQty || cur.quantity || 0;
    const next = journalStateOf(o.status, o.filledQty, total);
    if (isTerminal(cur.state) && !(cur.state === 'rejected' && next !== 'rejected' && cur.lastError?.includes('never placed'))) {
      // Terminal states are final, except the rare "declared not placed, then seen after all".
      if (o.filledQty > cur.filledQty) this.journal.updateOrder(cOID, cur.state, { filledQty: o.filledQty, avgPrice: o.avgPrice }, this.now());
      return;
    }
    if (next === cur.state && o.filledQty === cur.filledQty && cur.brokerOrderId === o.brokerOrderId) return;
    this.journal.updateOrder(cOID, next, {
      brokerOrderId: o.brokerOrderId, filledQty: o.filledQty, avgPrice: o.avgPrice,
      ...(o.text && next === 'rejected' ? { error: o.text } : {}),
    }, this.now());
    if (next === 'rejected') this.logger.warn({ cOID, text: o.text }, 'order rejected (Inactive)');
    this.wake(cOID);
  }

  /**
   * An execution from the stream or a poll; duplicates (same execId) are ignored. It is attributed to
   * the strategy of its order and moves that strategy's book only.
   */
  onBrokerFill(f: Fill): void {
    const cOID = f.cOID && this.journal.order(f.cOID) ? f.cOID : this.byBrokerId.get(f.brokerOrderId);
    if (!cOID) return; // not ours (another program's, or a foreign position's)
    const order = this.journal.order(cOID)!;
    const isNew = this.journal.recordFill({
      execId: f.execId, cOID, brokerOrderId: f.brokerOrderId, conid: f.conid, side: f.side, qty: f.qty, price: f.price,
      commission: f.commission, time: f.time,
    });
    if (!isNew) return;
    const symbol = this.instruments.get(f.conid)?.symbol ?? order.symbol;
    const book = this.opts.portfolio.book(order.strategyId);
    let h: Holding | undefined;
    if (book) {
      h = book.applyFill(f.conid, symbol, f.side, f.qty, f.price, f.commission);
      this.journal.setPosition(order.strategyId, f.conid, symbol, h.qty, h.avgCost, this.now());
    } else {
      this.logger.warn({ cOID, strategy: order.strategyId }, 'fill of a strategy this node does not run: journalled, not booked');
    }
    const filled = roundQty(this.journal.filledQty(cOID));
    if (order.leg !== 'combo' && filled > order.filledQty) {
      const total = order.quantity ?? filled;
      const state: JournalOrderState = isTerminal(order.state) ? order.state : filled >= total ? 'filled' : 'partial';
      this.journal.updateOrder(cOID, state, { filledQty: filled, detail: { execId: f.execId, qty: f.qty, price: f.price } }, this.now());
    }
    this.logger.info({ cOID, strategy: order.strategyId, symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission }, 'fill');
    this.opts.onFill?.(f, this.journal.order(cOID)!);
    this.wake(cOID);
  }

  filledFromFills(cOID: string): number {
    return this.journal.filledQty(cOID);
  }

  /**
   * Reads the broker's recent executions and books the ones of our orders the journal does not have
   * yet (by cOID / order_ref, else broker order id; deduplicated by execution id). Returns how many
   * were new. Used when the books and the broker disagree: a missed fill is found, never guessed.
   */
  async recoverFills(): Promise<number> {
    let n = 0;
    for (const f of await this.broker.fills()) {
      if (this.journal.hasFill(f.execId)) continue;
      const known = (f.cOID && this.journal.order(f.cOID)) || this.byBrokerId.get(f.brokerOrderId);
      if (!known) continue;
      this.onBrokerFill(f);
      n++;
    }
    return n;
  }

  /**
   * Waits until the order is final and its fills are journalled, polling the broker as a fallback
   * to the stream. Returns the order as it stands when done or when the time bound passes.
   */
  async settle(cOID: string, timeoutMs: number): Promise<JournalOrder> {
    const deadline = Date.now() + timeoutMs;
    let lastPoll = Date.now();
    for (;;) {
      const o = this.journal.order(cOID)!;
      if (o.state === 'unknown') await this.resolveUnknown(cOID);
      const cur = this.journal.order(cOID)!;
      const legUnits = cur.leg === 'combo' ? (this.comboUnits.get(cOID) ?? 0) : 1;
      const fillsDone = roundQty(this.journal.filledQty(cOID)) >= roundQty(cur.filledQty * legUnits) - 1e-9;
      if (isTerminal(cur.state) && fillsDone) return cur;
      if (Date.now() >= deadline) return cur;
      await this.waitForChange(cOID, Math.min(this.pollMs, Math.max(1, deadline - Date.now())));
      if (Date.now() - lastPoll >= this.pollMs) {
        lastPoll = Date.now();
        await this.poll(cOID, isTerminal(cur.state) && !fillsDone);
      }
    }
  }

  /** Fallback: asks the broker for the order (and its executions when fills are missing). */
  async poll(cOID: string, fillsToo: boolean): Promise<void> {
    try {
      const found = await this.broker.findOrderByCoid(cOID);
      if (found) this.applyBrokerOrder(found, cOID);
      const cur = this.journal.order(cOID)!;
      if (fillsToo || (found && found.filledQty > this.journal.filledQty(cOID))) {
        for (const f of await this.broker.fills()) if (f.cOID === cOID || (cur.brokerOrderId && f.brokerOrderId === cur.brokerOrderId)) this.onBrokerFill({ ...f, cOID });
      }
    } catch (err) {
      this.logger.warn({ cOID, err: err instanceof Error ? err.message : String(err) }, 'order poll failed');
    }
  }

  /**
   * Cancels a working order (timeouts, shutdown); the outcome arrives as a status. Returns false when
   * the cancel could not be sent (no broker id known, or the broker refused the request).
   */
  async cancel(cOID: string): Promise<boolean> {
    let o = this.journal.order(cOID);
    if (!o || isTerminal(o.state)) return true;
    if (!o.brokerOrderId) {
      // Sent but unanswered: the broker may know it by cOID.
      const found = await this.broker.findOrderByCoid(cOID).catch(() => undefined);
      if (found) this.applyBrokerOrder(found, cOID);
      o = this.journal.order(cOID)!;
      if (isTerminal(o.state)) return true;
      if (!o.brokerOrderId) return false;
    }
    try {
      await this.broker.cancelOrder(o.brokerOrderId);
      this.journal.updateOrder(cOID, o.state, { detail: 'cancel requested' }, this.now());
      return true;
    } catch (err) {
      this.logger.warn({ cOID, err: err instanceof Error ? err.message : String(err) }, 'cancel failed');
      return false;
    }
  }

  /**
   * Restart / reconnect: every order the journal still has open is looked up by cOID at the broker
   * and brought in line. Orders the broker does not know were never placed.
   */
  async recoverOpenOrders(): Promise<{ cOID: string; before: JournalOrderState; after: JournalOrderState }[]> {
    const changes: { cOID: string; before: JournalOrderState; after: JournalOrderState }[] = [];
    const open = this.journal.openOrders();
    if (open.length === 0) return changes;
    const brokerOrders = await this.broker.orders();
    const byCoid = new Map(brokerOrders.filter((o) => o.cOID).map((o) => [o.cOID!, o]));
    let fills: Fill[] | undefined;
    for (const o of open) {
      let found = byCoid.get(o.cOID) ?? (o.brokerOrderId ? brokerOrders.find((b) => b.brokerOrderId === o.brokerOrderId) : undefined);
      if (!found) found = await this.broker.findOrderByCoid(o.cOID);
      if (found) {
        this.applyBrokerOrder(found, o.cOID);
        if (found.filledQty > this.journal.filledQty(o.cOID)) {
          fills ??= await this.broker.fills();
          for (const f of fills) if (f.cOID === o.cOID || f.brokerOrderId === found.brokerOrderId) this.onBrokerFill({ ...f, cOID: o.cOID });
        }
      } else {
        this.journal.updateOrder(o.cOID, 'rejected', { error: 'not at the broker after restart/reconnect: never placed' }, this.now());
      }
      const after = this.journal.order(o.cOID)!.state;
      changes.push({ cOID: o.cOID, before: o.state, after });
      this.logger.info({ cOID: o.cOID, before: o.state, after }, 'journal order reconciled with the broker');
    }
    return changes;
  }

  private wake(cOID: string): void {
    const ws = this.waiters.get(cOID);
    if (!ws) return;
    this.waiters.delete(cOID);
    for (const w of ws) w();
  }

  private waitForChange(cOID: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(cOID) ?? new Set();
      const done = (): void => {
        clearTimeout(t);
        set.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      set.add(done);
      this.waiters.set(cOID, set);
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
