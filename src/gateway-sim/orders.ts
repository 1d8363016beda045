/**
 * Orders: validation, the question/reply pipeline, acceptance, the lifecycle driven by the engine
 * loop (PreSubmitted → Submitted → Filled / Cancelled), fills at bid/ask with size-dependent
 * slippage, executions, and the row formats of the order endpoints (§6).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isMarketOpen } from './hours.ts';
import type { Instrument, InstrumentTable } from './instruments.ts';
import { USD_SPREAD_CONID } from './instruments.ts';
import type { Market, Quote } from './market.ts';
import { formatPrice } from './market.ts';
import type { ResolvedOptions } from './options.ts';
import { applyFill, commissionFor, type Account } from './portfolio.ts';
import { SeededRandom } from './rng.ts';
import { fmtAmount, yymmddhhmmss, yyyymmddDashTime } from './format.ts';

export type OrderStatus = 'PendingSubmit' | 'PreSubmitted' | 'Submitted' | 'PendingCancel' | 'Cancelled' | 'Filled' | 'Inactive';
const TERMINAL: ReadonlySet<OrderStatus> = new Set(['Cancelled', 'Filled', 'Inactive']);

export interface Leg {
  conid: number;
  ratio: number;
}

export interface OrderDraft {
  acctId: string;
  conid: number;
  /** Combo legs when the order is on the USD spread conid (§6.11). */
  legs?: Leg[];
  conidex: string;
  side: 'BUY' | 'SELL';
  orderType: 'MKT' | 'LMT';
  price?: number;
  quantity?: number;
  cashQty?: number;
  tif: string;
  outsideRTH: boolean;
  cOID?: string;
}

export interface SimOrder extends OrderDraft {
  orderId: number;
  status: OrderStatus;
  filledQty: number;
  avgPrice: number;
  cashSpent: number;
  createdAt: number;
  lastExecAt: number;
  /** Real ms after which the order may leave PreSubmitted. */
  submitAfter: number;
  /** Fault injection: the order turns Inactive (rejected downstream) at its first step. */
  failDownstream?: boolean;
  cancelAfter?: number;
  text?: string;
}

export interface Execution {
  executionId: string;
  orderId: number;
  acct: string;
  conid: number;
  side: 'BUY' | 'SELL';
  size: number;
  price: number;
  commission: number;
  time: number;
  orderRef?: string;
}

export interface Question {
  messageId: string;
  text: string;
}

interface PendingReply {
  id: string;
  createdAt: number;
  kind: 'place' | 'modify';
  draft: OrderDraft;
  modifyOf?: number;
  remaining: Question[];
}

export type PlaceResult =
  | { kind: 'accepted'; body: unknown[] }
  | { kind: 'question'; body: unknown[] }
  /** Advanced order reject: a single object (not an array), HTTP 200. */
  | { kind: 'prompt'; body: Record<string, unknown> }
  | { kind: 'error'; status: number; body: Record<string, unknown> };

export interface OrderBookDeps {
  opts: ResolvedOptions;
  instruments: InstrumentTable;
  market: Market;
  now: () => number;
  account: (id: string) => Account | undefined;
  /** Message ids the session suppressed (§6.3). */
  suppressed: () => ReadonlySet<string>;
  /** Conids with market data taken this session (o354 asks when missing). */
  hasMarketData: (conid: number) => boolean;
  /** One-shot rejection injected by the faults module. */
  takeInjectedRejection: (conid: number) => string | undefined;
  /** One-shot "accepted, then Inactive" injected by the faults module. */
  takeInjectedInactive: (conid: number) => boolean;
  /** One-shot advanced order reject (p12 prompt) injected by the faults module. */
  takeInjectedPrompt: (conid: number) => boolean;
  /** A halted conid: orders are held, not worked. */
  isHalted: (conid: number) => boolean;
}

/** The p12 prompt text of IBKR's OpenAPI `AdvancedOrderReject` example (shortened). */
const P12_TEXT = 'If your order is not immediately executable, our systems may, depending on market conditions, reject your order if its limit price is more than the allowable amount away from the reference price at that time.\nUse the Price Management Algo?';
const P12_OPTIONS = ['Use on this order', 'Always use', 'Do not use'];

const HUMAN_TYPE: Record<string, string> = { MKT: 'Market', LMT: 'Limit' };
const ORIG_TYPE: Record<string, string> = { MKT: 'MARKET', LMT: 'LIMIT' };

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export class OrderBook extends EventEmitter {
  readonly orders = new Map<number, SimOrder>();
  readonly executions: Execution[] = [];
  private readonly replies = new Map<string, PendingReply>();
  /** Advanced order rejects waiting for an answer: order id → ticket. */
  private readonly prompts = new Map<number, { acctId: string; draft: OrderDraft; reqId: string }>();
  private readonly cOIDs = new Map<string, Map<string, number>>();
  private readonly rng: SeededRandom;
  private nextId: number;
  private execSeq = 0;
  /** New or modified orders to stream on the next engine tick (after the request was answered). */
  private readonly announce: SimOrder[] = [];

  constructor(private readonly d: OrderBookDeps) {
    super();
    this.rng = new SeededRandom(d.opts.seed ^ 0x0bde5);
    this.nextId = 1_300_000_000 + this.rng.int(0, 50_000_000);
  }

  reset(): void {
    this.orders.clear();
    this.executions.length = 0;
    this.replies.clear();
    this.prompts.clear();
    this.cOIDs.clear();
    this.announce.length = 0;
  }

  /** Forget pending reply ids (a new brokerage session, or any other order request when realistic). */
  invalidateReplies(): void {
    this.replies.clear();
  }

  // ---------------------------------------------------------------- parsing and checks

  /** Turns one request ticket into a draft, or a 400 error message. */
  parseTicket(t: Record<string, unknown>, pathAcct: string): OrderDraft | string {
    let conid = num(t.conid);
    let legs: Leg[] | undefined;
    const conidex = typeof t.conidex === 'string' ? t.conidex : undefined;
    if (conidex) {
      const combo = /^(\d+);;;(.+)$/.exec(conidex);
      if (combo) {
        conid = Number(combo[1]);
        legs = [];
        for (const part of combo[2]!.split(',')) {
          const m = /^(\d+)\/(-?\d+)$/.exec(part.trim());
          if (!m) return `Bad Request: invalid conidex leg '${part}'`;
          legs.push({ conid: Number(m[1]), ratio: Number(m[2]) });
        }
      } else {
        conid = num(conidex.split('@')[0]);
      }
    }
    if (conid === undefined) return 'Bad Request: conid or conidex is required';
    const side = typeof t.side === 'string' ? t.side.toUpperCase() : '';
    if (side !== 'BUY' && side !== 'SELL') return 'Bad Request: side must be BUY or SELL';
    const orderType = typeof t.orderType === 'string' ? t.orderType.toUpperCase() : '';
    if (!orderType) return 'Bad Request: orderType is required';
    if (orderType !== 'MKT' && orderType !== 'LMT') return `Bad Request: orderType ${orderType} is not supported by the simulator`;
    const tif = typeof t.tif === 'string' ? t.tif.toUpperCase() : '';
    if (!tif) return 'Bad Request: tif is required';
    const quantity = num(t.quantity);
    const cashQty = num(t.cashQty);
    if (quantity === undefined && cashQty === undefined) return 'Bad Request: quantity or cashQty is required';
    if ((quantity !== undefined && quantity <= 0) || (cashQty !== undefined && cashQty <= 0)) return 'Bad Request: quantity must be positive';
    const price = num(t.price);
    if (orderType === 'LMT' && price === undefined) return 'Bad Request: price is required for LMT orders';
    const acctId = typeof t.acctId === 'string' && t.acctId ? t.acctId : pathAcct;
    return {
      acctId, conid, ...(legs ? { legs } : {}), conidex: conidex ?? String(conid), side, orderType,
      ...(price !== undefined ? { price } : {}), ...(quantity !== undefined ? { quantity } : {}),
      ...(cashQty !== undefined ? { cashQty } : {}), tif, outsideRTH: t.outsideRTH === true,
      ...(typeof t.cOID === 'string' && t.cOID ? { cOID: t.cOID } : {}),
    };
  }

  private instrumentsOf(d: OrderDraft): Instrument[] | string {
    if (d.legs) {
      if (d.conid !== USD_SPREAD_CONID) return `Contract conid:${d.conid} is not supported`;
      const out: Instrument[] = [];
      for (const l of d.legs) {
        const i = this.d.instruments.get(l.conid);
        if (!i) return `Contract conid:${l.conid} is not supported`;
        if (i.secType !== 'STK') return 'Combination orders are only supported for US stocks';
        out.push(i);
      }
      return out;
    }
    const i = this.d.instruments.get(d.conid);
    if (!i) return `Contract conid:${d.conid} is not supported`;
    return [i];
  }

  private isDuplicate(acct: string, cOID: string): boolean {
    const m = this.cOIDs.get(acct);
    const at = m?.get(cOID);
    return at !== undefined && this.d.now() - at < 24 * 3_600_000;
  }

  /** Estimated unit price of a draft (combo: net price of the legs). */
  private refPrice(d: OrderDraft, insts: Instrument[]): number {
    const now = this.d.now();
    if (d.legs) {
      return d.legs.reduce((s, l, i) => s + l.ratio * this.d.market.quote(insts[i]!.conid, now)!.last, 0);
    }
    return this.d.market.quote(d.conid, now)!.last;
  }

  /** Gross unit value of a draft: the price, or for a combo the sum of |ratio| × price of its legs. */
  private grossUnit(d: OrderDraft, insts: Instrument[]): number {
    const now = this.d.now();
    if (d.legs) return d.legs.reduce((s, l, i) => s + Math.abs(l.ratio) * this.d.market.quote(insts[i]!.conid, now)!.last, 0);
    return Math.abs(this.refPrice(d, insts));
  }

  /** Business checks that reject an order outright (HTTP 200 with an error body, §6.1 shape 3). */
  private rejection(d: OrderDraft, insts: Instrument[], acct: Account): string | undefined {
    const injected = this.d.takeInjectedRejection(d.conid);
    if (injected) return injected;
    const inst = insts[0]!;
    const now = this.d.now();
    if (!d.legs && inst.secType === 'CRYPTO') {
      if (d.tif === 'GTC') return 'Time in force GTC is not allowed for crypto orders';
      if (d.orderType === 'MKT' && d.tif !== 'IOC') return 'The crypto MKT order must be IOC';
      if (d.orderType === 'MKT' && d.side === 'BUY' && d.cashQty === undefined) return 'You must set Cash Quantity';
      if (d.side === 'SELL') {
        const held = acct.positions.get(d.conid)?.qty ?? 0;
        const q = d.quantity ?? (d.cashQty ?? 0) / this.d.market.quote(d.conid, now)!.bid;
        if (q > held + 1e-9) return `Short sale of crypto is not allowed: position ${held} ${inst.symbol}, order ${q}`;
      }
    }
    if (!d.legs && inst.secType === 'STK' && d.quantity !== undefined && !Number.isInteger(d.quantity)) {
      return 'Fractional share quantities are not supported for this order';
    }
    const open = insts.every((i) => isMarketOpen(i.market, now));
    if (!open && d.tif === 'IOC') {
      return `The order cannot be executed: the ${inst.market === 'crypto' ? 'crypto' : 'exchange'} market is closed (IOC orders are not held)`;
    }
    // Funds: stocks at 50 % initial margin, crypto fully paid in cash.
    // Margin is charged on the gross value (a combo's legs both count).
    const unit = this.grossUnit(d, insts);
    const qty = d.quantity ?? (d.cashQty ?? 0) / Math.max(unit, 1e-9);
    const notional = d.cashQty ?? qty * unit;
    const marks = this.marks(acct);
    const needed = inst.secType === 'CRYPTO' && !d.legs ? (d.side === 'BUY' ? notional : 0) : notional * 0.5;
    const equity = marks.netLiq;
    const available = inst.secType === 'CRYPTO' && !d.legs ? acct.cash : equity - marks.initMargin;
    if (needed > available + 1e-6) {
      return `Your order is not accepted. In order to obtain the desired position your Equity with Loan Value [${fmtAmount(available)} USD] must exceed the new total Initial Margin of [${fmtAmount(needed)} USD]`;
    }
    return undefined;
  }

  /** Questions of §6.3 / §12.3 item 7 that this draft triggers, minus suppressed ones. */
  questionsFor(d: OrderDraft, insts: Instrument[], modify: boolean): Question[] {
    if (!this.d.opts.realism.questions) return [];
    const qs: Question[] = [];
    const inst = insts[0]!;
    const ref = this.refPrice(d, insts);
    const qty = d.quantity ?? (d.cashQty ?? 0) / Math.max(Math.abs(ref), 1e-9);
    const desc = `${d.side} ${d.quantity ?? `${d.cashQty} USD of`} ${d.legs ? 'combo' : inst.symbol} ${inst.descExchange}`;
    if (d.orderType === 'LMT' && d.price !== undefined && !d.legs && ref > 0) {
      const dev = (Math.abs(d.price - ref) / ref) * 100;
      if (dev > this.d.opts.priceConstraintPct) {
        qs.push({ messageId: 'o163', text: `The following order "${desc} @ ${d.price}" price exceeds \nthe Percentage constraint of ${this.d.opts.priceConstraintPct}%.\nAre you sure you want to submit this order?` });
      }
    }
    if (!modify && !insts.every((i) => this.d.hasMarketData(i.conid))) {
      qs.push({ messageId: 'o354', text: 'You are submitting an order without market data. We strongly recommend against this as it may result in erroneous and unexpected trades.\nAre you sure you want to submit this order?' });
    }
    if (d.orderType === 'MKT' && inst.secType === 'CRYPTO' && !d.legs) {
      qs.push({ messageId: 'o10288', text: 'This is a market order for a cryptocurrency. Market orders for crypto may execute at prices significantly different from the displayed price.\nAre you sure you want to submit this order?' });
    } else if (d.orderType === 'MKT' && !modify) {
      qs.push({ messageId: 'o10151', text: 'Market orders carry the risk of execution at prices significantly different from the current market price.\nAre you sure you want to submit this order?' });
    }
    if (d.cashQty !== undefined) {
      qs.push({ messageId: 'o10164', text: 'Cash quantity details are provided on a best-efforts basis only.\nAre you sure you want to submit this order?' });
      qs.push({ messageId: 'o10223', text: 'Orders that specify a cash quantity are simulated: the order is cancelled once the specified amount has been spent.\nAre you sure you want to submit this order?' });
    }
    if (qty > this.d.opts.sizeLimit) {
      qs.push({ messageId: 'o383', text: `The following order "${desc}" size exceeds the Size Limit of ${this.d.opts.sizeLimit}.\nAre you sure you want to submit this order?` });
    }
    const value = qty * this.grossUnit(d, insts);
    if (value > this.d.opts.valueLimit) {
      qs.push({ messageId: 'o451', text: `The following order "${desc}" value estimate of ${fmtAmount(value)} USD exceeds \nthe Total Value Limit of ${fmtAmount(this.d.opts.valueLimit)} USD.\nAre you sure you want to submit this order?` });
    }
    const sup = this.d.suppressed();
    return qs.filter((q) => !sup.has(q.messageId));
  }

  private questionBody(r: PendingReply): unknown[] {
    const q = r.remaining[0]!;
    return [{ id: r.id, message: [q.text], isSuppressed: false, messageIds: [q.messageId], messageOptions: ['Yes', 'No'] }];
  }

  private ask(kind: 'place' | 'modify', draft: OrderDraft, qs: Question[], modifyOf?: number): PlaceResult {
    const r: PendingReply = { id: randomUUID(), createdAt: Date.now(), kind, draft, remaining: qs, ...(modifyOf !== undefined ? { modifyOf } : {}) };
    this.replies.set(r.id, r);
    return { kind: 'question', body: this.questionBody(r) };
  }

  // ---------------------------------------------------------------- place / reply / modify / cancel

  place(acct: Account, tickets: Record<string, unknown>[], pathAcct: string): PlaceResult {
    if (this.d.opts.realism.replyInvalidatedByOtherOrders) this.invalidateReplies();
    if (tickets.length === 0) return { kind: 'error', status: 400, body: { error: 'Bad Request: orders array is empty', statusCode: 400 } };
    if (tickets.length > 1) {
      return { kind: 'error', status: 200, body: { error: 'The simulator accepts one order ticket per request (brackets and OCA groups are not modelled)' } };
    }
    const draft = this.parseTicket(tickets[0]!, pathAcct);
    if (typeof draft === 'string') return { kind: 'error', status: 400, body: { error: draft, statusCode: 400 } };
    if (draft.acctId !== acct.id) return { kind: 'error', status: 400, body: { error: `Bad Request: account ${draft.acctId} does not match ${acct.id}`, statusCode: 400 } };
    if (draft.cOID && this.isDuplicate(acct.id, draft.cOID)) {
      return { kind: 'error', status: 200, body: { error: `Order couldn't be submitted: Local order ID=${draft.cOID} is already registered.` } };
    }
    const insts = this.instrumentsOf(draft);
    if (typeof insts === 'string') return { kind: 'error', status: 200, body: { error: insts } };
    const rej = this.rejection(draft, insts, acct);
    if (rej) return { kind: 'error', status: 200, body: { error: rej } };
    const qs = this.questionsFor(draft, insts, false);
    if (qs.length) return this.ask('place', draft, qs);
    if (this.d.takeInjectedPrompt(draft.conid)) return this.advancedReject(acct, draft);
    return this.accept(acct, draft);
  }

  /**
   * Advanced order reject (OpenAPI `AdvancedOrderReject`, §6.1 shape 4): one object, HTTP 200; the
   * ticket is refused and gets an order id. Answering one of its options on /iserver/notification
   * submits it under that id; nothing else does.
   */
  private advancedReject(acct: Account, draft: OrderDraft): PlaceResult {
    const orderId = this.nextId++;
    const reqId = String(10_000 + (orderId % 90_000));
    this.prompts.set(orderId, { acctId: acct.id, draft, reqId });
    return { kind: 'prompt', body: { orderId, reqId, dismissable: [], text: P12_TEXT, options: P12_OPTIONS, type: 'M', messageId: 'p12', prompt: true } };
  }

  /** POST /iserver/notification: the answer to an advanced order reject. */
  answerPrompt(orderId: number, reqId: string, text: string): { status: number; body: unknown } {
    const p = this.prompts.get(orderId);
    if (!p || p.reqId !== reqId) return { status: 400, body: { error: `Bad Request: no prompt ${orderId}/${reqId}`, statusCode: 400 } };
    if (!P12_OPTIONS.includes(text)) return { status: 400, body: { error: `Bad Request: '${text}' is not an option`, statusCode: 400 } };
    this.prompts.delete(orderId);
    const acct = this.d.account(p.acctId);
    if (!acct) return { status: 400, body: { error: 'Bad Request: unknown account', statusCode: 400 } };
    if (p.draft.cOID && this.isDuplicate(acct.id, p.draft.cOID)) return { status: 200, body: { error: `Order couldn't be submitted: Local order ID=${p.draft.cOID} is already registered.` } };
    this.accept(acct, p.draft, orderId);
    return { status: 200, body: 'Request was submitted' };
  }

  reply(id: string, confirmed: boolean): PlaceResult {
    const r = this.replies.get(id);
    const ttl = this.d.opts.realism.replyTtlMs;
    if (!r || Date.now() - r.createdAt > ttl) {
      this.replies.delete(id);
      return { kind: 'error', status: 400, body: { error: `reply id not found: '${id}'` } };
    }
    this.replies.delete(id);
    if (!confirmed) return { kind: 'error', status: 200, body: { error: 'Order not confirmed ' } };
    r.remaining.shift();
    if (r.remaining.length) {
      const next: PendingReply = { ...r, id: randomUUID(), createdAt: Date.now() };
      this.replies.set(next.id, next);
      return { kind: 'question', body: this.questionBody(next) };
    }
    const acct = this.d.account(r.draft.acctId);
    if (!acct) return { kind: 'error', status: 400, body: { error: 'Bad Request: unknown account', statusCode: 400 } };
    if (r.kind === 'modify' && r.modifyOf !== undefined) return this.applyModify(r.modifyOf, r.draft);
    if (r.draft.cOID && this.isDuplicate(acct.id, r.draft.cOID)) {
      return { kind: 'error', status: 200, body: { error: `Order couldn't be submitted: Local order ID=${r.draft.cOID} is already registered.` } };
    }
    if (this.d.takeInjectedPrompt(r.draft.conid)) return this.advancedReject(acct, r.draft);
    return this.accept(acct, r.draft);
  }

  /** Places the order for real; used by accept paths and by the order-503 fault. */
  accept(acct: Account, draft: OrderDraft, orderId = this.nextId++): PlaceResult {
    const now = this.d.now();
    if (draft.cOID) {
      let m = this.cOIDs.get(acct.id);
      if (!m) this.cOIDs.set(acct.id, (m = new Map()));
      m.set(draft.cOID, now);
    }
    const order: SimOrder = {
      ...draft, orderId, status: 'PreSubmitted', filledQty: 0, avgPrice: 0, cashSpent: 0,
      createdAt: now, lastExecAt: now, submitAfter: Date.now() + this.d.opts.realism.submitDelayMs,
      ...(this.d.takeInjectedInactive(draft.conid) ? { failDownstream: true } : {}),
    };
    this.orders.set(order.orderId, order);
    // The order is streamed and its lifecycle moves on the engine loop, never inside the request: the
    // placement answer goes out before any `sor`/`str` frame about the order (as on IBKR, §6.13).
    this.announce.push(order);
    const body: Record<string, unknown> = { order_id: String(order.orderId), order_status: order.status, encrypt_message: '1' };
    if (draft.cOID) body.local_order_id = draft.cOID;
    return { kind: 'accepted', body: [body] };
  }

  modify(acct: Account, orderId: number, ticket: Record<string, unknown>): PlaceResult {
    if (this.d.opts.realism.replyInvalidatedByOtherOrders) this.invalidateReplies();
    const o = this.orders.get(orderId);
    if (!o || o.acctId !== acct.id) return { kind: 'error', status: 200, body: { error: `OrderID ${orderId} doesn't exist` } };
    if (TERMINAL.has(o.status)) return { kind: 'error', status: 200, body: { error: `Cannot modify order ${orderId}: it is ${o.status}` } };
    const merged = { conid: o.conid, conidex: o.conidex, side: o.side, orderType: o.orderType, tif: o.tif, price: o.price, quantity: o.quantity, cashQty: o.cashQty, ...ticket };
    const draft = this.parseTicket(merged, acct.id);
    if (typeof draft === 'string') return { kind: 'error', status: 400, body: { error: draft, statusCode: 400 } };
    if (draft.side !== o.side) return { kind: 'error', status: 200, body: { error: 'Changing the side of an order is not allowed' } };
    const insts = this.instrumentsOf(draft);
    if (typeof insts === 'string') return { kind: 'error', status: 200, body: { error: insts } };
    const qs = this.questionsFor(draft, insts, true);
    if (qs.length) return this.ask('modify', draft, qs, orderId);
    return this.applyModify(orderId, draft);
  }

  private applyModify(orderId: number, d: OrderDraft): PlaceResult {
    const o = this.orders.get(orderId);
    if (!o || TERMINAL.has(o.status)) return { kind: 'error', status: 200, body: { error: `OrderID ${orderId} doesn't exist` } };
    o.orderType = d.orderType;
    o.tif = d.tif;
    if (d.price !== undefined) o.price = d.price;
    if (d.quantity !== undefined) o.quantity = d.quantity;
    o.outsideRTH = d.outsideRTH;
    this.announce.push(o);
    return { kind: 'accepted', body: [{ order_id: String(o.orderId), order_status: o.status, encrypt_message: '1' }] };
  }

  cancel(acct: Account, orderId: number): { status: number; body: Record<string, unknown> } {
    if (this.d.opts.realism.replyInvalidatedByOtherOrders) this.invalidateReplies();
    if (orderId === -1) {
      for (const o of this.orders.values()) if (o.acctId === acct.id && !TERMINAL.has(o.status)) this.requestCancel(o);
      return { status: 200, body: { msg: 'Request was submitted', order_id: -1, conid: -1, account: null } };
    }
    const o = this.orders.get(orderId);
    if (!o || o.acctId !== acct.id) return { status: 200, body: { error: `OrderID ${orderId} doesn't exist` } };
    if (!TERMINAL.has(o.status)) this.requestCancel(o);
    return { status: 200, body: { msg: 'Request was submitted', order_id: o.orderId, conid: o.conid, account: o.acctId } };
  }

  private requestCancel(o: SimOrder): void {
    if (o.status === 'PendingCancel') return;
    o.status = 'PendingCancel';
    o.cancelAfter = Date.now() + this.d.opts.realism.cancelDelayMs;
    this.emit('order', o, false);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Advances every live order (called by the engine loop). */
  tick(): void {
    const fresh = this.announce.splice(0);
    for (const o of fresh) this.emit('order', o, true);
    for (const o of this.orders.values()) if (!TERMINAL.has(o.status)) this.step(o);
  }

  private setStatus(o: SimOrder, s: OrderStatus): void {
    if (o.status === s) return;
    o.status = s;
    this.emit('order', o, false);
  }

  step(o: SimOrder): void {
    if (TERMINAL.has(o.status)) return;
    const realNow = Date.now();
    if (o.status === 'PendingCancel') {
      if (realNow >= (o.cancelAfter ?? 0)) this.setStatus(o, 'Cancelled');
      return;
    }
    if (realNow < o.submitAfter) return;
    if (o.failDownstream) {
      o.text = 'Order rejected downstream (fault injection)';
      this.setStatus(o, 'Inactive');
      return;
    }
    const acct = this.d.account(o.acctId);
    const insts = this.instrumentsOf(o);
    if (!acct || typeof insts === 'string') { this.setStatus(o, 'Inactive'); return; }
    const now = this.d.now();
    if (insts.some((i) => this.d.isHalted(i.conid))) return; // halted: held until trading resumes
    const open = insts.every((i) => isMarketOpen(i.market, now));
    if (!open) {
      // DAY orders that were working end with the session; others wait for the open (§6.13).
      if (o.status === 'Submitted' && o.tif === 'DAY') this.setStatus(o, 'Cancelled');
      return;
    }
    if (o.status === 'PreSubmitted') this.setStatus(o, 'Submitted');
    this.tryFill(o, acct, insts, now);
  }

  private tryFill(o: SimOrder, acct: Account, insts: Instrument[], now: number): void {
    const quotes = insts.map((i) => this.d.market.quote(i.conid, now)!);
    const legs = o.legs ?? [{ conid: o.conid, ratio: 1 }];
    const dir = o.side === 'BUY' ? 1 : -1;
    // Net executable unit price: buy legs at the ask, sell legs at the bid.
    const legPx = legs.map((l, i) => (dir * l.ratio > 0 ? quotes[i]!.ask : quotes[i]!.bid));
    const net = legs.reduce((s, l, i) => s + l.ratio * legPx[i]!, 0);
    const marketable = o.orderType === 'MKT' || (o.side === 'BUY' ? net <= o.price! + 1e-9 : net >= o.price! - 1e-9);
    if (!marketable) {
      if (o.tif === 'IOC') this.setStatus(o, 'Cancelled');
      return;
    }
    const inst0 = insts[0]!;
    let total = o.quantity;
    if (total === undefined) {
      const raw = (o.cashQty ?? 0) / Math.max(Math.abs(net), 1e-9);
      total = Math.floor(raw / inst0.sizeIncrement) * inst0.sizeIncrement;
      total = Number(total.toFixed(8));
      o.quantity = total;
    }
    const remaining = Number((total - o.filledQty).toFixed(8));
    if (remaining <= 0) { this.setStatus(o, 'Filled'); return; }
    const parts = o.tif === 'IOC' ? 1 : Math.max(1, this.d.opts.partialFillParts);
    let size = parts > 1 ? Math.ceil((total / parts) / inst0.sizeIncrement) * inst0.sizeIncrement : remaining;
    size = Math.min(Number(size.toFixed(8)), remaining);
    // Size-dependent slippage against the side of the order.
    const notional = Math.abs(size * net);
    const slipFrac = (this.d.opts.slippageBpsPer100k / 10_000) * (notional / 100_000);
    let fillNet = 0;
    legs.forEach((l, i) => {
      const inst = insts[i]!;
      const legDir = dir * Math.sign(l.ratio);
      const raw = legPx[i]! * (1 + legDir * slipFrac);
      const px = Math.round(raw / inst.tick) * inst.tick;
      const price = Number(px.toFixed(8));
      const legQty = size * Math.abs(l.ratio) * legDir;
      const commission = commissionFor(inst.secType, legQty, price);
      applyFill(acct, inst.conid, legQty, price, commission);
      fillNet += l.ratio * price;
      const ex: Execution = {
        executionId: `0000${(this.d.opts.seed & 0xffff).toString(16).padStart(4, '0')}.${Math.floor(now / 1000).toString(16)}.01.${String(++this.execSeq).padStart(2, '0')}`,
        orderId: o.orderId, acct: acct.id, conid: inst.conid, side: legDir > 0 ? 'BUY' : 'SELL', size: Math.abs(legQty), price,
        commission: Math.round(commission * 100) / 100, time: now, ...(o.cOID ? { orderRef: o.cOID } : {}),
      };
      this.executions.push(ex);
      this.emit('execution', ex);
    });
    o.avgPrice = (o.avgPrice * o.filledQty + fillNet * size) / (o.filledQty + size);
    o.filledQty = Number((o.filledQty + size).toFixed(8));
    o.cashSpent += Math.abs(fillNet * size);
    o.lastExecAt = now;
    if (o.filledQty >= total - 1e-9) this.setStatus(o, 'Filled');
    else if (o.tif === 'IOC') this.setStatus(o, 'Cancelled');
    else this.emit('order', o, false);
  }

  // ---------------------------------------------------------------- formats

  private describe(o: SimOrder): { symbol: string; inst: Instrument | undefined } {
    if (o.legs) {
      const syms = o.legs.map((l) => `${l.ratio > 0 ? '+' : ''}${l.ratio} ${this.d.instruments.get(l.conid)?.symbol ?? l.conid}`);
      return { symbol: `SPREAD ${syms.join(' ')}`, inst: this.d.instruments.get(o.legs[0]!.conid) };
    }
    const inst = this.d.instruments.get(o.conid);
    return { symbol: inst?.symbol ?? String(o.conid), inst };
  }

  private totalSize(o: SimOrder): number {
    return o.quantity ?? 0;
  }

  private tifHuman(o: SimOrder): string {
    return o.tif === 'DAY' ? 'CLOSE' : o.tif;
  }

  /** A row of GET /iserver/account/orders and of `sor` (§6.7, §8.8). */
  liveRow(o: SimOrder): Record<string, unknown> {
    const { symbol, inst } = this.describe(o);
    const filled = o.filledQty;
    const total = this.totalSize(o);
    const tickSz = inst?.tick ?? 0.01;
    const verb = o.status === 'Filled' ? (o.side === 'BUY' ? 'Bought' : 'Sold') : (o.side === 'BUY' ? 'Buy' : 'Sell');
    const pricePart = o.orderType === 'LMT' ? ` Limit ${formatPrice(o.price!, tickSz)}` : ' Market';
    const sizeStr = o.quantity !== undefined ? String(o.quantity) : `${o.cashQty} USD`;
    const row: Record<string, unknown> = {
      acct: o.acctId, account: o.acctId, conidex: o.conidex, conid: o.conid, orderId: o.orderId, cashCcy: 'USD',
      sizeAndFills: o.status === 'Filled' ? String(filled) : `${filled}/${total}`,
      orderDesc: `${verb} ${sizeStr} ${symbol}${pricePart}, ${o.tif === 'DAY' ? 'Day' : o.tif}`,
      description1: symbol, ticker: symbol, secType: o.legs ? 'BAG' : (inst?.secType ?? 'STK'),
      listingExchange: o.legs ? 'SMART' : (inst?.descExchange ?? 'SMART'),
      remainingQuantity: Math.max(0, Number((total - filled).toFixed(8))), filledQuantity: filled, totalSize: total,
      companyName: o.legs ? 'COMBO' : (inst?.companyName ?? ''), status: o.status,
      order_ccp_status: o.status === 'PreSubmitted' ? 'Submitted' : o.status === 'PendingSubmit' ? 'Pending Submit' : o.status,
      isEventTrading: '0', avgPrice: filled > 0 ? formatPrice(o.avgPrice, tickSz) : undefined,
      origOrderType: ORIG_TYPE[o.orderType], supportsTaxOpt: '1',
      lastExecutionTime: yymmddhhmmss(o.lastExecAt), lastExecutionTime_r: o.lastExecAt,
      orderType: HUMAN_TYPE[o.orderType], outsideRTH: o.outsideRTH,
      price: o.orderType === 'LMT' ? formatPrice(o.price!, tickSz) : '', side: o.side, timeInForce: this.tifHuman(o),
      bgColor: '#FFFFFF', fgColor: o.status === 'Filled' ? '#000000' : '#0000CC',
    };
    if (o.cOID) row.order_ref = o.cOID;
    if (o.cashQty !== undefined) row.totalCashSize = o.cashQty;
    if (o.text) row.text = o.text;
    if (row.avgPrice === undefined) delete row.avgPrice;
    return row;
  }

  /** GET /iserver/account/order/status/{id} (§6.8). */
  statusRow(o: SimOrder): Record<string, unknown> {
    const { symbol, inst } = this.describe(o);
    const tickSz = inst?.tick ?? 0.01;
    const verb = o.status === 'Filled' ? (o.side === 'BUY' ? 'Bought' : 'Sold') : (o.side === 'BUY' ? 'Buy' : 'Sell');
    const pricePart = o.orderType === 'LMT' ? ` Limit ${formatPrice(o.price!, tickSz)}` : ' Market';
    const total = this.totalSize(o);
    const ccp: Record<OrderStatus, string> = { PendingSubmit: '0', PreSubmitted: '0', Submitted: '1', Filled: '2', PendingCancel: '3', Cancelled: '4', Inactive: '5' };
    const descr: Record<OrderStatus, string> = {
      PendingSubmit: 'Order Pending Submit', PreSubmitted: 'Order Submitted', Submitted: 'Order Submitted', Filled: 'Order Filled',
      PendingCancel: 'Order Pending Cancel', Cancelled: 'Order Cancelled', Inactive: 'Order Inactive',
    };
    const terminal = TERMINAL.has(o.status);
    return {
      sub_type: null, request_id: String(o.orderId % 1000), server_id: '0', order_id: o.orderId, conidex: o.conidex, conid: o.conid,
      symbol, side: o.side === 'BUY' ? 'B' : 'S', contract_description_1: symbol, listing_exchange: inst?.descExchange ?? 'SMART',
      option_acct: 'c', company_name: inst?.companyName ?? '', size: String(Math.max(0, total - o.filledQty).toFixed(1)),
      total_size: total.toFixed(1), currency: 'USD', account: o.acctId, order_type: ORIG_TYPE[o.orderType],
      ...(o.orderType === 'LMT' ? { limit_price: formatPrice(o.price!, tickSz) } : {}),
      cum_fill: o.filledQty.toFixed(1), order_status: o.status, order_ccp_status: ccp[o.status],
      order_status_description: descr[o.status], tif: o.tif, fg_color: '#FFFFFF', bg_color: '#000000',
      order_not_editable: terminal, editable_fields: '\u001e', cannot_cancel_order: terminal, deactivate_order: false,
      sec_type: o.legs ? 'BAG' : (inst?.secType ?? 'STK'), available_chart_periods: '#R|1',
      order_description: `${verb} ${o.quantity ?? ''}${pricePart}, ${o.tif === 'DAY' ? 'Day' : o.tif}`,
      order_description_with_contract: `${verb} ${o.quantity ?? ''} ${symbol}${pricePart}, ${o.tif === 'DAY' ? 'Day' : o.tif}`,
      alert_active: 1, child_order_type: '0', order_clearing_account: o.acctId, size_and_fills: String(o.filledQty),
      ...(o.filledQty > 0 ? { average_price: formatPrice(o.avgPrice, tickSz) } : {}),
      exit_strategy_tool_availability: '1', allowed_duplicate_opposite: true, order_time: yymmddhhmmss(o.createdAt),
      use_price_mgmt_algo: false, ...(o.cOID ? { order_ref: o.cOID } : {}), ...(o.text ? { text: o.text } : {}),
    };
  }

  /** A row of GET /iserver/account/trades (§6.9); `ws` true gives the `str` typing (§8.9). */
  executionRow(e: Execution, ws = false): Record<string, unknown> {
    const inst = this.d.instruments.get(e.conid);
    const side = e.side === 'BUY' ? 'B' : 'S';
    const exch = inst?.secType === 'CRYPTO' ? 'PAXOS' : (inst?.listingExchange === 'NASDAQ' ? 'ISLAND' : (inst?.listingExchange ?? 'SMART'));
    const priceStr = formatPrice(e.price, inst?.tick ?? 0.01);
    const net = e.size * e.price;
    return {
      execution_id: e.executionId, symbol: inst?.symbol ?? String(e.conid), supports_tax_opt: '1', side,
      order_description: `${e.side === 'BUY' ? (ws ? 'Bot' : 'Bought') : 'Sold'} ${e.size} @ ${priceStr} on ${exch}`,
      trade_time: yyyymmddDashTime(e.time), trade_time_r: e.time, size: ws ? String(e.size) : e.size, price: priceStr,
      ...(e.orderRef ? { order_ref: e.orderRef } : {}), submitter: 'sim', exchange: exch, commission: e.commission.toFixed(2),
      net_amount: Math.round(net * 100) / 100, account: e.acct, accountCode: e.acct, account_allocation_name: e.acct,
      company_name: inst?.companyName ?? '', contract_description_1: inst?.symbol ?? '', sec_type: inst?.secType ?? 'STK',
      listing_exchange: inst?.descExchange ?? '', clearing_id: 'IB', clearing_name: 'IB',
      liquidation_trade: '0', is_event_trading: '0',
      // Realistic rows: no order_id (identify the order by order_ref); `str` rows name the contract by
      // `conidex`, trades rows give the conid as a string (§6.9, §8.9: the types vary).
      ...(this.d.opts.realism.executionConidVariants
        ? ws ? { conidex: String(e.conid) } : { conid: String(e.conid), conidEx: String(e.conid) }
        : { conid: e.conid, conidEx: String(e.conid) }),
      ...(this.d.opts.realism.executionOrderId ? { order_id: e.orderId } : {}),
    };
  }

  /** Marks for an account: net liquidation, position values and the margin the simulator charges. */
  marks(acct: Account): { netLiq: number; stockValue: number; cryptoValue: number; gross: number; initMargin: number; upnl: number; realized: number } {
    const now = this.d.now();
    let stockValue = 0;
    let cryptoValue = 0;
    let gross = 0;
    let upnl = 0;
    let realized = 0;
    for (const p of acct.positions.values()) {
      realized += p.realized;
      if (p.qty === 0) continue;
      const q: Quote | undefined = this.d.market.quote(p.conid, now);
      const inst = this.d.instruments.get(p.conid);
      if (!q || !inst) continue;
      const v = p.qty * q.last;
      if (inst.secType === 'CRYPTO') cryptoValue += v; else stockValue += v;
      gross += Math.abs(v);
      upnl += p.qty * (q.last - p.avgCost);
    }
    const netLiq = acct.cash + stockValue + cryptoValue;
    return { netLiq, stockValue, cryptoValue, gross, initMargin: Math.abs(stockValue) * 0.5 + Math.abs(cryptoValue), upnl, realized };
  }
}
