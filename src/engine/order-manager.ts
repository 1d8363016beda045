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
 * A placement whose answer is lost is never re-sent under a new cOID. Its cOID is looked up at the
 * broker (order status, live orders, executions). Not finding it proves nothing: IBKR's live orders
 * come back empty after hours and right after a session starts (Voyz/ibind #43, #90), which for
 * crypto is every night. So an `unknown` order stays unknown until it is positively resolved: found
 * by a lookup, resolved by a stream update or a fill carrying its cOID, or proven absent by sending
 * it once more under the SAME cOID (IBKR refuses a registered cOID with "Local order ID=… is already
 * registered", so this cannot double it). That resend is only made while the order is fresh
 * (`resendWindowMs`); an older order that cannot be resolved stays `unknown`, loudly.
 *
 * Fills are attributed by the cOID the broker echoes (`order_ref`), then by broker order id, then by
 * conid + side + time against our orders in flight; a fill that matches none (a manual trade in the
 * account) is logged loudly and never adopted; a fill is never booked on conid 0.
 *
 * One order manager serves every strategy of the node: it owns the cOID sequence, the journal's
 * order rows, the lookup of lost placements (the IBKR client's own lookup is a single read) and
 * the attribution of fills: a fill belongs to the strategy whose order it fills, and moves that
 * strategy's book only. Placement serialisation is the broker's job (IBKR's question/reply chains);
 * this class does not queue placements a second time.
 */
import type { Logger } from '../log/logger.ts';
import { silentLogger } from '../log/silent.ts';
import type { JournalOrder, JournalOrderState } from '../store/journal.ts';
import type { JournalApi as Journal } from '../store/journal-api.ts';
import { BoundedMap, BoundedSet } from '../util/bounded.ts';
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
  /** How long one round of resolving an unknown placement lasts (it stays unknown afterwards). */
  resolveTimeoutMs?: number;
  /** An unresolved order younger than this is proven present/absent by a same-cOID resend; default 2 min. */
  resendWindowMs?: number;
  /** Called at crash points (tests): may never resolve, so the test can SIGKILL the process there. */
  crashHook?: (point: CrashPoint, cOID: string) => Promise<void>;
  /** Called right before an order is handed to the broker (latency measurement). */
  beforeSend?: (order: { cOID: string; strategyId: string }) => void;
  /** Called after a fill is journalled and applied to its strategy's book; the order's row is to read at once, not to keep. */
  onFill?: (fill: Fill, order: Readonly<JournalOrder>) => void;
  /** Injected clock for journal timestamps (ms). */
  now?: () => number;
  /** How many orders' broker ids are remembered (updates and fills without a cOID); default 10,000. */
  recentOrders?: number;
}

function journalStateOf(status: BrokerOrderStatus, filledQty: number, totalQty: number): JournalOrderState {
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
function isTerminal(state: JournalOrderState): boolean {
  return TERMINAL.has(state);
}

export type NewOrder = Omit<OrderRequest, 'cOID'>;

export class OrderManager {
  private readonly broker: Broker;
  private readonly journal: Journal;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly resolveTimeoutMs: number;
  private readonly resendWindowMs: number;
  private readonly now: () => number;
  /** Orders already sent once more under their own cOID (the absence proof is made once; bounded). */
  private readonly probed = new BoundedSet<string>(10_000);
  /** Executions already reported as matching no order of ours (logged once each; bounded). */
  private readonly unmatched = new BoundedSet<string>(10_000);
  private readonly byBrokerId: BoundedMap<string, string>;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly instruments = new Map<number, Instrument>();
  /** Combo orders: leg units per combo unit (executions come per leg, the status in combo units). */
  private readonly comboUnits = new BoundedMap<string, number>(1_000);
  private seq: number;
  private readonly runTag: string;
  /** Why new orders are refused (a last-resort stop is cancelling everything); null while open. */
  private closedFor: string | null = null;

  constructor(private readonly opts: OrderManagerOptions) {
    this.broker = opts.broker;
    this.journal = opts.journal;
    this.logger = opts.logger ?? silentLogger;
    this.pollMs = opts.pollMs ?? 2_000;
    this.resolveTimeoutMs = opts.resolveTimeoutMs ?? 20_000;
    this.resendWindowMs = opts.resendWindowMs ?? 120_000;
    this.now = opts.now ?? Date.now;
    this.byBrokerId = new BoundedMap<string, string>(opts.recentOrders ?? 10_000);
    this.seq = Number(this.journal.getMeta('coidSeq') ?? '0');
    // A run tag keeps cOIDs unique even if two journals share a prefix (IBKR: unique per account for 24 h).
    this.runTag = Date.now().toString(36);
    for (const o of this.journal.openOrders()) if (o.brokerOrderId) this.byBrokerId.set(o.brokerOrderId, o.cOID);
  }

  /**
   * Refuses every later placement before it is sent (journalled as rejected, so the strategy sees a
   * refusal): a stop that cancels the working orders must not race a leg retry that would place a
   * new one behind its back.
   */
  closeForNewOrders(reason: string): void {
    this.closedFor = reason;
  }

  registerInstrument(i: Instrument): void {
    if (this.instruments.get(i.conid) !== i) this.instruments.set(i.conid, i);
  }

  /** Remembers which cOID a broker order id belongs to (only when new: an update's id is usually known). */
  private noteBrokerId(brokerOrderId: string, cOID: string): void {
    if (this.byBrokerId.get(brokerOrderId) !== cOID) this.byBrokerId.set(brokerOrderId, cOID);
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
    // No hook, no await: a turn of the microtask queue per order for nothing (a backtest places tens of thousands).
    if (this.opts.crashHook) await this.opts.crashHook('after-journal', cOID);
    return await this.send(cOID, strategyId, () => this.broker.placeOrder({ ...req, cOID }));
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
    if (this.opts.crashHook) await this.opts.crashHook('after-journal', cOID);
    return await this.send(cOID, strategyId, () => placeCombo({ ...req, cOID }));
  }

  private async send(cOID: string, strategyId: string, call: () => Promise<{ brokerOrderId: string; status: BrokerOrderStatus }>): Promise<JournalOrder> {
    try {
      if (this.closedFor !== null) throw new OrderRejectedError(cOID, `not sent: ${this.closedFor}`);
      this.opts.beforeSend?.({ cOID, strategyId });
      const res = await call();
      if (res.brokerOrderId) this.noteBrokerId(res.brokerOrderId, cOID);
      if (this.opts.crashHook) await this.opts.crashHook('after-send', cOID);
      // Read at once (fields taken before the write below), not kept.
      const cur = this.journal.orderNow(cOID)!;
      // A stream update may already have moved the order further; never move it backwards.
      if (cur.state === 'new' || cur.state === 'unknown') {
        const total = cur.quantity ?? 0;
        this.journal.updateOrder(cOID, journalStateOf(res.status, 0, total), { brokerOrderId: res.brokerOrderId, detail: { ack: res.status } }, this.now());
      } else if (!cur.brokerOrderId) {
        this.journal.updateOrder(cOID, cur.state, { brokerOrderId: res.brokerOrderId }, this.now());
      }
      this.wake(cOID);
      // The caller's copy, read after the write (a stream update cannot come in between: no await).
      const sent = this.journal.order(cOID)!;
      if (this.logger.isLevelEnabled('info')) this.logger.info({ cOID, strategy: strategyId, symbol: sent.symbol, side: sent.side, qty: sent.quantity, cashQty: sent.cashQty, brokerOrderId: res.brokerOrderId, status: res.status }, 'order sent');
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
   * Resolves an order whose placement outcome is unknown: looks it up until the broker shows it,
   * proves it present or absent once by a same-cOID resend (while fresh), and otherwise leaves it
   * `unknown` when the time bound passes. Never marks it rejected because a lookup found nothing.
   */
  async resolveUnknown(cOID: string, timeoutMs = this.resolveTimeoutMs): Promise<JournalOrder> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const cur = this.journal.order(cOID)!;
      if (cur.state !== 'unknown' && cur.state !== 'new') return cur; // a stream update or a fill resolved it
      if (await this.lookupAndApply(cur)) return this.journal.order(cOID)!;
      // Until one resend got a clear answer (placed, refused, or refused as a duplicate).
      if (!this.probed.has(cOID)) {
        const p = await this.probeByResend(cur);
        if (p === 'placed' || p === 'absent') return this.journal.order(cOID)!;
      }
      if (Date.now() >= deadline) break;
      await this.waitForChange(cOID, Math.min(this.pollMs * (attempt + 1), 5_000));
    }
    const cur = this.journal.order(cOID)!;
    if (cur.state === 'unknown' || cur.state === 'new') {
      if (cur.state === 'new') this.journal.updateOrder(cOID, 'unknown', { error: 'placement outcome unknown' }, this.now());
      this.logger.error({ cOID }, 'ORDER OUTCOME UNKNOWN: not found at the broker and not proven absent; it stays open as unknown and is never re-sent under a new cOID');
    }
    return this.journal.order(cOID)!;
  }

  /** One lookup by cOID (and broker order id); true when the broker showed the order. */
  private async lookupAndApply(cur: JournalOrder): Promise<boolean> {
    try {
      const found = await this.broker.findOrderByCoid(cur.cOID, cur.brokerOrderId ?? undefined);
      if (!found) return false;
      this.applyBrokerOrder(found, cur.cOID);
      this.logger.info({ cOID: cur.cOID, brokerOrderId: found.brokerOrderId, status: found.status }, 'order found at the broker by cOID');
      return true;
    } catch (err) {
      this.logger.warn({ cOID: cur.cOID, err: err instanceof Error ? err.message : String(err) }, 'cOID lookup failed; will retry');
      return false;
    }
  }

  /**
   * Sends the journalled order again under the SAME cOID. Accepted: it was not at the broker and
   * now is, once. Refused as a duplicate (or uncertain again): it exists. Refused otherwise: it was
   * not there and is not now (rejected). Only for fresh single-leg market orders the journal can
   * rebuild; anything else is `skipped`.
   */
  private async probeByResend(cur: JournalOrder): Promise<'placed' | 'absent' | 'exists' | 'uncertain' | 'skipped'> {
    const instrument = this.instruments.get(cur.conid);
    if (!instrument || cur.leg === 'combo' || cur.orderType !== 'MKT' || this.now() - cur.createdAt > this.resendWindowMs) return 'skipped';
    if (this.probed.has(cur.cOID)) return 'exists'; // a resend already got a clear answer
    this.probed.add(cur.cOID);
    const req: OrderRequest = {
      cOID: cur.cOID, instrument, side: cur.side, orderType: 'MKT', tif: cur.tif as OrderRequest['tif'],
      ...(cur.quantity !== null ? { quantity: cur.quantity } : {}), ...(cur.cashQty !== null ? { cashQty: cur.cashQty } : {}),
    };
    this.logger.warn({ cOID: cur.cOID }, 'order not found at the broker: sending it once more under the SAME cOID to prove it absent or present');
    try {
      const res = await this.broker.placeOrder(req);
      if (res.brokerOrderId) this.byBrokerId.set(res.brokerOrderId, cur.cOID);
      const now = this.journal.order(cur.cOID)!;
      if (now.state === 'new' || now.state === 'unknown') {
        this.journal.updateOrder(cur.cOID, journalStateOf(res.status, 0, now.quantity ?? 0), { brokerOrderId: res.brokerOrderId || null, detail: { resentSameCoid: res.status } }, this.now());
      }
      this.wake(cur.cOID);
      return 'placed';
    } catch (err) {
      if (err instanceof OrderRejectedError && !err.duplicate) {
        this.journal.updateOrder(cur.cOID, 'rejected', { error: `proven absent: the same-cOID resend was refused: ${err.reason}` }, this.now());
        this.logger.warn({ cOID: cur.cOID, reason: err.reason }, 'same-cOID resend refused: the order was never placed');
        this.wake(cur.cOID);
        return 'absent';
      }
      if (err instanceof OrderRejectedError) {
        this.logger.warn({ cOID: cur.cOID, reason: err.reason }, 'same-cOID resend refused as already registered: the order exists at the broker');
        return 'exists';
      }
      // The resend's answer was lost too: nothing proven; another resend (same cOID) may follow.
      this.probed.delete(cur.cOID);
      this.logger.warn({ cOID: cur.cOID, err: err instanceof Error ? err.message : String(err) }, 'same-cOID resend: the answer was lost again');
      return 'uncertain';
    }
  }

  /** A status update from the stream or a poll. */
  onBrokerOrder(o: BrokerOrder): void {
    const mine = o.cOID ? this.journal.orderNow(o.cOID) : undefined;
    if (mine) {
      this.applyBrokerOrder(o, mine.cOID, mine);
      return;
    }
    const cOID = this.byBrokerId.get(o.brokerOrderId);
    if (!cOID) return; // not ours
    this.applyBrokerOrder(o, cOID);
  }

  /**
   * `read`: the journal's row of the order, when the caller has just read it. The row is read at
   * once: every field it gives is taken before the journal is written.
   */
  private applyBrokerOrder(o: BrokerOrder, cOID: string, read?: Readonly<JournalOrder>): void {
    const cur = read ?? this.journal.orderNow(cOID);
    if (!cur) return;
    if (o.brokerOrderId) this.noteBrokerId(o.brokerOrderId, cOID);
    // Later partial-fill updates carry no average price: keep the last, or compute it from the fills.
    const avgPrice = o.avgPrice ?? this.avgFromFills(cOID);
    const total = o.totalQty || cur.quantity || 0;
    const next = journalStateOf(o.status, o.filledQty, total);
    if (isTerminal(cur.state) && !(cur.state === 'rejected' && next !== 'rejected' && cur.lastError?.includes('never placed'))) {
      // Terminal states are final, except the rare "declared not placed, then seen after all".
      if (o.filledQty > cur.filledQty) this.journal.updateOrder(cOID, cur.state, { filledQty: o.filledQty, avgPrice }, this.now());
      return;
    }
    if (next === cur.state && o.filledQty === cur.filledQty && (!o.brokerOrderId || cur.brokerOrderId === o.brokerOrderId)) return;
    const brokerOrderId = o.brokerOrderId || null;
    this.journal.updateOrder(cOID, next, o.text && next === 'rejected'
      ? { brokerOrderId, filledQty: o.filledQty, avgPrice, error: o.text }
      : { brokerOrderId, filledQty: o.filledQty, avgPrice }, this.now());
    if (next === 'rejected') this.logger.warn({ cOID, text: o.text }, 'order rejected (Inactive)');
    this.wake(cOID);
  }

  /**
   * An execution from the stream or a poll; duplicates (same execId) are ignored. Attributed by
   * cOID (`order_ref`), broker order id, then conid + side + time against our orders in flight, to
   * the strategy of that order: it moves that strategy's book only.
   */
  onBrokerFill(f: Fill): void {
    // By the cOID the broker echoes (the journal's row read once), else by broker order id or contract.
    // Read at once: every field of the row below is taken before the order's row is written.
    const echoed = f.cOID ? this.journal.orderNow(f.cOID) : undefined;
    const cOID = echoed ? echoed.cOID : f.cOID ? undefined : this.attributeFill(f);
    if (!cOID) {
      if (!this.unmatched.has(f.execId)) {
        this.unmatched.add(f.execId);
        this.logger.error({ execId: f.execId, orderRef: f.cOID, brokerOrderId: f.brokerOrderId, conid: f.conid, side: f.side, qty: f.qty, price: f.price },
          'UNMATCHED FILL: an execution that matches no order of ours (a manual trade in the account?); not adopted');
      }
      return;
    }
    const order = echoed ?? this.journal.orderNow(cOID)!;
    const conid = f.conid || order.conid;
    if (!conid) {
      if (!this.unmatched.has(f.execId)) {
        this.unmatched.add(f.execId);
        this.logger.error({ execId: f.execId, cOID }, 'fill without a contract id for an order without one (combo): not booked');
      }
      return;
    }
    if (f.conid !== conid) f = { ...f, conid };
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
    if (order.leg !== 'combo') {
      // The average price follows the journalled fills (a status row may have come first, without one).
      const avgPrice = this.journal.avgFillPrice(cOID);
      if (filled > order.filledQty) {
        const total = order.quantity ?? filled;
        const state: JournalOrderState = isTerminal(order.state) ? order.state : filled >= total ? 'filled' : 'partial';
        this.journal.updateOrder(cOID, state, { filledQty: filled, ...(avgPrice !== undefined ? { avgPrice } : {}), detail: { execId: f.execId, qty: f.qty, price: f.price } }, this.now());
      } else if (avgPrice !== undefined && Math.abs(avgPrice - order.avgPrice) > 1e-9) {
        this.journal.updateOrder(cOID, order.state, { avgPrice, detail: { execId: f.execId, qty: f.qty, price: f.price } }, this.now());
      }
    }
    if (this.logger.isLevelEnabled('info')) this.logger.info({ cOID, strategy: order.strategyId, symbol, side: f.side, qty: f.qty, price: f.price, commission: f.commission }, 'fill');
    this.opts.onFill?.(f, this.journal.orderNow(cOID)!);
    this.wake(cOID);
  }

  /** The cOID a fill belongs to, or undefined when it matches no order of ours. */
  private attributeFill(f: Fill): string | undefined {
    if (f.cOID) return this.journal.orderNow(f.cOID) ? f.cOID : undefined; // a foreign order_ref is not ours
    if (f.brokerOrderId) {
      const byId = this.byBrokerId.get(f.brokerOrderId);
      if (byId) return byId;
    }
    if (!f.conid) return undefined;
    // Fallback: the oldest order in flight on that contract and side, created before the fill, not yet filled.
    const slackMs = 5_000;
    return this.journal
      .openOrders()
      .filter((o) => o.conid === f.conid && o.side === f.side && o.createdAt <= f.time + slackMs)
      .filter((o) => o.quantity === null || roundQty(o.quantity - this.filledFromFills(o.cOID)) > 0)
      .sort((a, b) => a.createdAt - b.createdAt)[0]?.cOID;
  }

  /** Volume-weighted price of the journalled fills of an order; undefined without fills. */
  private avgFromFills(cOID: string): number | undefined {
    return this.journal.avgFillPrice(cOID);
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
      const known = (f.cOID && this.journal.orderNow(f.cOID)) || this.byBrokerId.get(f.brokerOrderId);
      if (!known) continue;
      this.onBrokerFill(f);
      n++;
    }
    return n;
  }

  /**
   * Waits until the order is final and its fills are journalled, polling the broker as a fallback
   * to the stream. Returns the order as it stands when done or when the time bound passes. An
   * unknown order's resolution rounds are cut to the time left (a request already sent still
   * gets its answer: the bound can be passed by one lookup or one same-cOID resend).
   */
  async settle(cOID: string, timeoutMs: number): Promise<JournalOrder> {
    const deadline = Date.now() + timeoutMs;
    let lastPoll = Date.now();
    for (;;) {
      const o = this.journal.order(cOID)!;
      if (o.state === 'unknown') await this.resolveUnknown(cOID, Math.min(this.resolveTimeoutMs, Math.max(0, deadline - Date.now())));
      const cur = this.journal.order(cOID)!;
      const fillsDone = this.fillsDone(cur);
      if (isTerminal(cur.state) && fillsDone) return cur;
      if (Date.now() >= deadline) return cur;
      await this.waitForChange(cOID, Math.min(this.pollMs, Math.max(1, deadline - Date.now())));
      if (Date.now() - lastPoll >= this.pollMs) {
        lastPoll = Date.now();
        await this.poll(cOID, isTerminal(cur.state) && !fillsDone);
      }
    }
  }

  /**
   * The order as `settle` would return it at once, without waiting: final, its fills journalled.
   * Undefined while it is not (then `settle` waits). A backtest's broker fills an order as it is
   * accepted, so its orders are settled before anyone waits: no promise, no turn of the queue.
   */
  settledNow(cOID: string): JournalOrder | undefined {
    const cur = this.journal.order(cOID);
    return cur && isTerminal(cur.state) && this.fillsDone(cur) ? cur : undefined;
  }

  /** Whether the journalled fills of an order cover its filled quantity (a combo's in leg units). */
  private fillsDone(cur: JournalOrder): boolean {
    const legUnits = cur.leg === 'combo' ? (this.comboUnits.get(cur.cOID) ?? 0) : 1;
    return roundQty(this.journal.filledQty(cur.cOID)) >= roundQty(cur.filledQty * legUnits) - 1e-9;
  }

  /** Fallback: asks the broker for the order (and its executions when fills are missing). */
  async poll(cOID: string, fillsToo: boolean): Promise<void> {
    try {
      const before = this.journal.order(cOID)!;
      const found = await this.broker.findOrderByCoid(cOID, before.brokerOrderId ?? undefined);
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
   * and brought in line. One empty read proves nothing: an order the broker acknowledged
   * (working/partial) that cannot be seen is kept as it is; one never acknowledged (new/unknown) is
   * proven present or absent by a same-cOID resend while fresh, else it stays `unknown`, loudly.
   */
  async recoverOpenOrders(): Promise<{ cOID: string; before: JournalOrderState; after: JournalOrderState }[]> {
    const changes: { cOID: string; before: JournalOrderState; after: JournalOrderState }[] = [];
    const open = this.journal.openOrders();
    if (open.length === 0) return changes;
    const brokerOrders = await this.broker.orders().catch((err: unknown) => {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'reading live orders failed; looking each order up');
      return [] as BrokerOrder[];
    });
    const byCoid = new Map(brokerOrders.filter((o) => o.cOID).map((o) => [o.cOID!, o]));
    let fills: Fill[] | undefined;
    for (const o of open) {
      let found = byCoid.get(o.cOID) ?? (o.brokerOrderId ? brokerOrders.find((b) => b.brokerOrderId === o.brokerOrderId) : undefined);
      if (!found) found = await this.broker.findOrderByCoid(o.cOID, o.brokerOrderId ?? undefined).catch(() => undefined);
      if (found) {
        this.applyBrokerOrder(found, o.cOID);
        if (found.filledQty > this.journal.filledQty(o.cOID)) {
          fills ??= await this.broker.fills();
          for (const f of fills) if (f.cOID === o.cOID || (found.brokerOrderId && f.brokerOrderId === found.brokerOrderId)) this.onBrokerFill({ ...f, cOID: o.cOID });
        }
      } else if (o.state === 'working' || o.state === 'partial') {
        this.logger.warn({ cOID: o.cOID, state: o.state }, 'journal order acknowledged by the broker but not visible now: kept as it is (an empty read is not a proof of absence)');
      } else {
        const p = await this.probeByResend(o);
        // Placed just now: let it settle (fills journalled) before the caller adopts the broker's
        // positions, or the same fill would be counted once by the adoption and once as a fill.
        if (p === 'placed') await this.settle(o.cOID, this.resolveTimeoutMs);
        if (p === 'skipped' || p === 'exists' || p === 'uncertain') {
          this.journal.updateOrder(o.cOID, 'unknown', { error: 'not found at the broker after restart/reconnect; not proven absent' }, this.now());
          this.logger.error({ cOID: o.cOID }, 'ORDER OUTCOME UNKNOWN after restart/reconnect: it stays open as unknown and is never re-sent under a new cOID');
        }
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
