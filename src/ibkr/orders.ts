/**
 * Orders: placement with the question/reply chain, cancel, live orders, status, executions.
 *
 * Money safety rules (§6, §11.14-17):
 *  - Submissions for one account are serialized (place → replies → next), so reply chains never
 *    interleave and no other order call invalidates a pending reply id.
 *  - Every order carries a cOID. A placement (or reply) that times out or gets a 5xx may still have
 *    gone through (the gateway answers 503 after ~10 s while IBKR creates the order), so it is NEVER
 *    re-sent blindly: the client forces a refresh of live orders and looks the cOID up. A
 *    "duplicate cOID" rejection means "already placed" and is resolved the same way. Only when a
 *    reply id expired and the lookup proves the order absent is the same ticket (same cOID) sent
 *    again once; the gateway would reject it as a duplicate if it had been registered.
 *  - Questions are answered by a policy: auto-confirm by default, a list of message ids to refuse,
 *    and a bound on the chain length.
 *  - An "advanced order reject" (`{orderId, reqId, prompt/text, options, messageId}`, IBKR OpenAPI
 *    `AdvancedOrderReject`) is a REJECTION: its `orderId` is the refused ticket. Only when the reply
 *    policy names one of its options (`allowPromptOptions`) is that option sent to
 *    `/iserver/notification`, and then the order's fate is read back by order status, never assumed.
 *  - Live orders are not a proof of absence (empty after hours and right after a session starts,
 *    `force=true` answers `{}`: Voyz/ibind #43, #90). `lookup` therefore answers `found` or
 *    `unknown`, never "absent"; it asks order status (when the order id is known), live orders and
 *    the executions (`order_ref`). Absence is proven only by a resend with the SAME cOID, which the
 *    gateway refuses with "Local order ID=… is already registered" when the order exists.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { GatewayApi } from './api.ts';
import { isErrorBody } from './api.ts';
import {
  ApiError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  OrderOutcomeUnknownError,
  OrderQuestionRefusedError,
  OrderRejectedError,
  ResponseShapeError,
} from './errors.ts';
import { decode, lenientId, lenientNumber, lenientString, normalizeSide, normalizeStatus, type OrderStatus } from './decode.ts';
import { toExecutions, type Execution } from './executions.ts';

export type { Execution } from './executions.ts';

/**
 * The answer of a cOID lookup. There is no "absent": no read of the gateway proves that an order
 * does not exist (see the file head); only a same-cOID resend does, and that is the caller's step.
 */
export type OrderLookup =
  | { kind: 'found'; order: LiveOrder; via: 'status' | 'live-orders' | 'trades' }
  | { kind: 'unknown'; reason: string };

export interface ReplyPolicy {
  /** Confirm questions automatically (default true). */
  autoConfirm?: boolean;
  /** Message ids (e.g. `o163`) that are never confirmed: the order is abandoned. */
  refuseMessageIds?: string[];
  /** Most questions answered for one order before giving up (default 10). */
  maxChainLength?: number;
  /** Message ids suppressed with `/iserver/questions/suppress` at each new brokerage session. */
  suppressAtStart?: string[];
  /**
   * Options of an advanced order reject (e.g. `Use on this order`) that may be answered to resubmit
   * the order. Default none: an advanced order reject is a rejection.
   */
  allowPromptOptions?: string[];
}

export type OrderType = 'MKT' | 'LMT';
export type Tif = 'DAY' | 'GTC' | 'IOC' | 'PAX' | 'OPG';

export interface OrderRequest {
  accountId: string;
  conid: number;
  side: 'BUY' | 'SELL';
  type: OrderType;
  /** Units; required except for crypto market buys. */
  quantity?: number;
  /** Notional in the contract currency; required for crypto market buys (§6.12). */
  cashQty?: number;
  /** Limit price for LMT. */
  price?: number;
  /** Default DAY (IOC for crypto). */
  tif?: Tif;
  /** `CRYPTO` enables the crypto rules (IOC, cashQty for market buys). Default STK. */
  secType?: 'STK' | 'CRYPTO';
  /** Client order id, unique per account for 24 h; generated when absent. */
  cOID?: string;
  outsideRth?: boolean;
  /** Optional routing (`conidex`), e.g. for combos. */
  conidex?: string;
}

export interface ComboLeg {
  conid: number;
  /** Signed ratio: +1 buy one of this leg per combo unit, -1 sell one. */
  ratio: number;
}

export interface ComboOrderRequest {
  accountId: string;
  legs: ComboLeg[];
  side: 'BUY' | 'SELL';
  type: OrderType;
  quantity: number;
  price?: number;
  tif?: Tif;
  cOID?: string;
  /** Spread conid of the currency (§6.11); USD 28812380. */
  spreadConid?: number;
}

export interface PlacedOrder {
  /** 0 when the order was found only by its executions (rows without `order_id`): not known yet. */
  orderId: number;
  cOID: string;
  status: OrderStatus;
  /** `placement`: the gateway accepted it; `lookup`: found by cOID after a timeout/5xx/duplicate. */
  resolvedBy: 'placement' | 'lookup';
  /** Questions that were confirmed on the way. */
  confirmed: { messageIds: string[]; messages: string[] }[];
}

export interface LiveOrder {
  orderId: number;
  cOID?: string;
  account?: string;
  conid?: number;
  ticker?: string;
  side?: 'BUY' | 'SELL';
  status: OrderStatus;
  rawStatus?: string;
  orderType?: string;
  totalSize?: number;
  filledQuantity?: number;
  remainingQuantity?: number;
  avgPrice?: number;
  price?: number;
  tif?: string;
  lastExecutionTime?: number;
}

const liveOrderRowSchema = z.looseObject({
  orderId: lenientId,
  order_ref: lenientString.optional(),
  acct: lenientString.optional(),
  account: lenientString.optional(),
  conid: lenientId.optional(),
  ticker: lenientString.optional(),
  side: lenientString.optional(),
  status: lenientString.optional(),
  orderType: lenientString.optional(),
  origOrderType: lenientString.optional(),
  totalSize: lenientNumber.optional(),
  filledQuantity: lenientNumber.optional(),
  remainingQuantity: lenientNumber.optional(),
  avgPrice: lenientNumber.optional(),
  price: lenientNumber.optional(),
  timeInForce: lenientString.optional(),
  lastExecutionTime_r: lenientNumber.optional(),
});

const liveOrdersSchema = z.union([
  z.looseObject({ orders: z.array(liveOrderRowSchema).nullish(), snapshot: z.unknown().optional() }),
  z.array(z.unknown()).transform(() => ({ orders: [] as z.output<typeof liveOrderRowSchema>[], snapshot: false })),
]);

const orderStatusSchema = z.looseObject({
  order_id: lenientId,
  order_status: lenientString.optional(),
  conid: lenientId.optional(),
  side: lenientString.optional(),
  total_size: lenientNumber.optional(),
  cum_fill: lenientNumber.optional(),
  filled_quantity: lenientNumber.optional(),
  average_price: lenientNumber.optional(),
  avg_fill_price: lenientNumber.optional(),
});

export interface OrderStatusInfo {
  orderId: number;
  status: OrderStatus;
  rawStatus?: string;
  conid?: number;
  side?: 'BUY' | 'SELL';
  totalSize?: number;
  filled?: number;
  avgPrice?: number;
}

const acceptedSchema = z.looseObject({ order_id: lenientId, order_status: lenientString.optional(), local_order_id: lenientString.optional() });
const questionSchema = z.looseObject({ id: lenientString, message: z.union([z.array(z.string()), z.string()]).optional(), messageIds: z.array(z.string()).nullish() });
const promptSchema = z.looseObject({
  orderId: lenientId, reqId: lenientString, options: z.array(z.string()).nullish(), messageId: lenientString.optional(),
  text: lenientString.optional(), message: lenientString.optional(), prompt: z.unknown().optional(),
});

const USD_SPREAD_CONID = 28812380;

export function newClientOrderId(prefix = 'tdm'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Builds the gateway ticket for an order, applying the crypto rules. */
export function buildTicket(o: OrderRequest & { cOID: string }): Record<string, unknown> {
  const crypto = o.secType === 'CRYPTO';
  const t: Record<string, unknown> = {
    acctId: o.accountId,
    orderType: o.type,
    side: o.side,
    cOID: o.cOID,
  };
  if (o.conidex) t.conidex = o.conidex;
  else t.conid = o.conid;
  if (crypto) t.secType = `${o.conid}:CRYPTO`;
  if (o.type === 'LMT') {
    if (o.price === undefined || !(o.price > 0)) throw new OrderRejectedError(o.cOID ?? '', 'a limit order needs a positive price');
    t.price = o.price;
  }
  if (crypto && o.type === 'MKT' && o.side === 'BUY') {
    // §6.12: crypto market buys are notional (cashQty) and IOC.
    if (o.cashQty === undefined || !(o.cashQty > 0)) {
      throw new OrderRejectedError(o.cOID ?? '', 'a crypto market BUY needs cashQty (the USD amount to spend)');
    }
    t.cashQty = o.cashQty;
    t.tif = 'IOC';
  } else {
    if (o.cashQty !== undefined && o.quantity === undefined) t.cashQty = o.cashQty;
    else {
      if (o.quantity === undefined || !(o.quantity > 0)) throw new OrderRejectedError(o.cOID ?? '', 'the order needs a positive quantity');
      t.quantity = o.quantity;
    }
    t.tif = o.tif ?? (crypto ? 'IOC' : 'DAY');
  }
  if (crypto && t.tif !== 'IOC' && t.tif !== 'PAX') {
    throw new OrderRejectedError(o.cOID ?? '', `crypto orders must be IOC (or PAX), not ${String(t.tif)}`);
  }
  if (o.outsideRth !== undefined) t.outsideRTH = o.outsideRth;
  return t;
}

export interface OrdersOptions {
  replyPolicy?: ReplyPolicy;
  /** Reads of live orders when looking a cOID up after a failed placement; default 3. */
  lookupReads?: number;
}

export class OrdersApi {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly policy: Required<ReplyPolicy>;
  private readonly lookupReads: number;

  constructor(
    private readonly api: GatewayApi,
    opts: OrdersOptions = {},
  ) {
    this.policy = {
      autoConfirm: opts.replyPolicy?.autoConfirm ?? true,
      refuseMessageIds: opts.replyPolicy?.refuseMessageIds ?? [],
      maxChainLength: opts.replyPolicy?.maxChainLength ?? 10,
      suppressAtStart: opts.replyPolicy?.suppressAtStart ?? [],
      allowPromptOptions: opts.replyPolicy?.allowPromptOptions ?? [],
    };
    this.lookupReads = opts.lookupReads ?? 3;
  }

  get replyPolicy(): Readonly<Required<ReplyPolicy>> {
    return this.policy;
  }

  /** Places one order; resolves when IBKR accepted it (or it was found by cOID). */
  place(order: OrderRequest): Promise<PlacedOrder> {
    const cOID = order.cOID ?? newClientOrderId();
    const ticket = buildTicket({ ...order, cOID });
    return this.serialized(order.accountId, () => this.submit(order.accountId, cOID, ticket));
  }

  /** A combo (spread) order on US stocks: `conidex = 28812380;;;c1/r1,c2/r2` (§6.11). */
  placeCombo(o: ComboOrderRequest): Promise<PlacedOrder> {
    if (o.legs.length < 2) throw new OrderRejectedError(o.cOID ?? '', 'a combo needs at least two legs');
    const conidex = `${o.spreadConid ?? USD_SPREAD_CONID};;;${o.legs.map((l) => `${l.conid}/${l.ratio}`).join(',')}`;
    return this.place({
      accountId: o.accountId,
      conid: o.spreadConid ?? USD_SPREAD_CONID,
      conidex,
      side: o.side,
      type: o.type,
      quantity: o.quantity,
      price: o.price,
      tif: o.tif,
      cOID: o.cOID,
    });
  }

  /** `DELETE /iserver/account/{acct}/order/{id}`; resolves when the gateway acknowledged it. */
  cancel(accountId: string, orderId: number): Promise<{ orderId: number; message: string }> {
    return this.serialized(accountId, async () => {
      const endpoint = `DELETE /iserver/account/${accountId}/order/${orderId}`;
      const res = await this.api.requestRaw({
        method: 'DELETE',
        path: `/iserver/account/${encodeURIComponent(accountId)}/order/${orderId}`,
        requires: 'iserver',
        priority: 'order',
        allowErrorBody: true,
        idempotent: true,
      });
      const body = Array.isArray(res.json) ? res.json[0] : res.json;
      if (isErrorBody(body)) throw new ApiError(endpoint, res.status, String(body.error));
      const b = decode(z.looseObject({ msg: lenientString.optional(), order_id: lenientId.optional() }), body ?? {}, endpoint);
      return { orderId: b.order_id ?? orderId, message: b.msg ?? '' };
    });
  }

  /** `POST /iserver/questions/suppress`. */
  async suppress(messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.api.request({
      schema: z.looseObject({ status: lenientString.optional() }),
      method: 'POST',
      path: '/iserver/questions/suppress',
      body: { messageIds: messageIds.slice(0, 51) },
      // Not 'iserver': this runs inside the priming step itself (after /iserver/accounts).
      requires: 'none',
      priority: 'order',
      idempotent: true,
    });
  }

  /**
   * Live orders (`GET /iserver/account/orders`). The first call of a session is a pre-flight that
   * can answer `{"orders":[],"snapshot":false}`; then it is read once more. `force` first resets the
   * gateway's cache (that call answers empty) and then reads.
   */
  async liveOrders(opts: { force?: boolean } = {}): Promise<LiveOrder[]> {
    if (opts.force) await this.readLiveOrders(true);
    let r = await this.readLiveOrders(false);
    if (r.orders.length === 0 && r.snapshot === false) r = await this.readLiveOrders(false);
    return r.orders;
  }

  /** `GET /iserver/account/order/status/{orderId}`. */
  async status(orderId: number): Promise<OrderStatusInfo> {
    const s = await this.api.request({
      method: 'GET',
      path: `/iserver/account/order/status/${orderId}`,
      schema: orderStatusSchema,
      requires: 'iserver',
      priority: 'order',
    });
    return {
      orderId: s.order_id,
      status: normalizeStatus(s.order_status),
      rawStatus: s.order_status,
      conid: s.conid,
      side: normalizeSide(s.side),
      totalSize: s.total_size,
      filled: s.cum_fill ?? s.filled_quantity,
      avgPrice: s.average_price ?? s.avg_fill_price,
    };
  }

  /** Executions of the last `days` (1-7) days (`GET /iserver/account/trades`). */
  async trades(days?: number): Promise<Execution[]> {
    const rows = await this.api.request({
      method: 'GET',
      path: '/iserver/account/trades',
      query: { days },
      schema: z.union([z.array(z.unknown()), z.looseObject({}).transform(() => [] as unknown[])]),
      requires: 'iserver',
    });
    return toExecutions(rows, 'GET /iserver/account/trades', (row, err) =>
      this.api.log.warn({ row: JSON.stringify(row)?.slice(0, 200), err: err.message }, 'execution row skipped'),
    );
  }

  /**
   * Looks an order up by cOID: order status (when its order id is known), then live orders (`reads`
   * reads, the first forced; default 1), then the executions (`order_ref`). `unknown` when none shows it:
   * that is not a proof of absence (file head).
   */
  async lookup(cOID: string, opts: { orderId?: number; reads?: number } = {}): Promise<OrderLookup> {
    const problems: string[] = [];
    if (opts.orderId) {
      try {
        const s = await this.status(opts.orderId);
        if (s.status !== 'Unknown') {
          return {
            kind: 'found', via: 'status',
            order: { orderId: s.orderId, cOID, conid: s.conid, side: s.side, status: s.status, rawStatus: s.rawStatus, totalSize: s.totalSize, filledQuantity: s.filled, avgPrice: s.avgPrice },
          };
        }
      } catch (err) {
        problems.push(`order status: ${(err as Error).message}`);
      }
    }
    // `reads` live-order reads, the first forced (default one: each costs 5 s of pacing and an empty
    // answer proves nothing; callers that can wait loop lookups instead).
    const reads = Math.max(1, opts.reads ?? 1);
    for (let i = 0; i < reads; i++) {
      try {
        const hit = (await this.liveOrders({ force: i === 0 })).find((o) => o.cOID === cOID);
        if (hit) return { kind: 'found', via: 'live-orders', order: hit };
        if (i === reads - 1) problems.push(`not in live orders (${reads} read${reads > 1 ? 's' : ''})`);
      } catch (err) {
        problems.push(`live orders: ${(err as Error).message}`);
      }
    }
    try {
      let all = await this.trades(1);
      // The first trades read of a session can be empty (reference §11 item 21): an empty answer is read again.
      if (all.length === 0) all = await this.trades(1);
      const execs = all.filter((e) => e.orderRef === cOID);
      if (execs.length) return { kind: 'found', via: 'trades', order: orderFromExecutions(cOID, execs) };
      problems.push('no execution with this order_ref');
    } catch (err) {
      problems.push(`trades: ${(err as Error).message}`);
    }
    return { kind: 'unknown', reason: problems.join('; ') };
  }

  /** Finds an order by cOID after forcing a refresh of live orders (§11.15). */
  async findByClientOrderId(cOID: string): Promise<LiveOrder | undefined> {
    for (let i = 0; i < this.lookupReads; i++) {
      const orders = await this.liveOrders({ force: i === 0 });
      const hit = orders.find((o) => o.cOID === cOID);
      if (hit) return hit;
    }
    return undefined;
  }

  // ---- internals ------------------------------------------------------------------------------

  private async serialized<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(accountId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(accountId, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(accountId) === tail) this.locks.delete(accountId);
    }
  }

  private async readLiveOrders(force: boolean): Promise<{ orders: LiveOrder[]; snapshot: unknown }> {
    const r = await this.api.request({
      method: 'GET',
      path: '/iserver/account/orders',
      query: force ? { force: true } : undefined,
      schema: liveOrdersSchema,
      requires: 'iserver',
      priority: 'order',
    });
    return {
      snapshot: r.snapshot,
      orders: (r.orders ?? []).map((o) => ({
        orderId: o.orderId,
        cOID: o.order_ref,
        account: o.acct ?? o.account,
        conid: o.conid,
        ticker: o.ticker,
        side: normalizeSide(o.side),
        status: normalizeStatus(o.status),
        rawStatus: o.status,
        orderType: o.origOrderType ?? o.orderType,
        totalSize: o.totalSize ?? sumIfBoth(o.filledQuantity, o.remainingQuantity),
        filledQuantity: o.filledQuantity,
        remainingQuantity: o.remainingQuantity,
        avgPrice: o.avgPrice,
        price: o.price,
        tif: o.timeInForce,
        lastExecutionTime: o.lastExecutionTime_r,
      })),
    };
  }

  private async submit(accountId: string, cOID: string, ticket: Record<string, unknown>, resent = false): Promise<PlacedOrder> {
    const placeEndpoint = `POST /iserver/account/${accountId}/orders`;
    const confirmed: PlacedOrder['confirmed'] = [];
    let endpoint = placeEndpoint;
    let json: unknown;
    try {
      json = await this.post(`/iserver/account/${encodeURIComponent(accountId)}/orders`, { orders: [ticket] });
    } catch (err) {
      return this.afterFailure(err, cOID, placeEndpoint, confirmed);
    }
    for (let answered = 0; ; answered++) {
      const body = Array.isArray(json) ? json[0] : json;
      if (isErrorBody(body)) {
        const msg = String(body.error);
        const refusal = new ApiError(endpoint, 200, msg);
        if (refusal.code === 'IBKR_DUPLICATE_COID' || refusal.code === 'IBKR_NO_BRIDGE') return this.lookupOrThrow(cOID, endpoint, refusal, confirmed);
        throw new OrderRejectedError(cOID, msg, false, { endpoint });
      }
      if (body && typeof body === 'object' && 'order_id' in body) {
        const a = decode(acceptedSchema, body, endpoint);
        return { orderId: a.order_id, cOID, status: normalizeStatus(a.order_status), resolvedBy: 'placement', confirmed };
      }
      if (body && typeof body === 'object' && 'id' in body && 'message' in body) {
        const q = decode(questionSchema, body, endpoint);
        const messages = Array.isArray(q.message) ? q.message : q.message ? [q.message] : [];
        const ids = q.messageIds ?? [];
        const refused = ids.filter((id) => this.policy.refuseMessageIds.includes(id));
        if (!this.policy.autoConfirm || refused.length) {
          await this.decline(q.id ?? '');
          throw new OrderQuestionRefusedError(endpoint, cOID, ids, messages, refused.length ? `the reply policy refuses ${refused.join(', ')}` : 'auto-confirm is off');
        }
        if (answered >= this.policy.maxChainLength) {
          await this.decline(q.id ?? '');
          throw new OrderQuestionRefusedError(endpoint, cOID, ids, messages, `more than ${this.policy.maxChainLength} questions`);
        }
        confirmed.push({ messageIds: ids, messages });
        endpoint = `POST /iserver/reply/${q.id}`;
        try {
          json = await this.post(`/iserver/reply/${encodeURIComponent(q.id ?? '')}`, { confirmed: true });
        } catch (err) {
          if (err instanceof ApiError && err.code === 'IBKR_REPLY_EXPIRED') {
            // The question expired (or another order call invalidated it): not placed unless the
            // lookup finds it; then the same ticket, same cOID, goes once more.
            const found = await this.findByClientOrderId(cOID);
            if (found) return this.fromLookup(found, cOID, confirmed);
            if (!resent) return this.submit(accountId, cOID, ticket, true);
            throw new OrderRejectedError(cOID, `${err.gatewayMessage} (twice; the order was not placed)`, false, { endpoint, cause: err });
          }
          return this.afterFailure(err, cOID, endpoint, confirmed);
        }
        continue;
      }
      if (body && typeof body === 'object' && 'reqId' in body && 'orderId' in body) {
        // Advanced order reject (OpenAPI `AdvancedOrderReject`, §6.1 shape 4): the ticket was refused.
        const p = decode(promptSchema, body, endpoint);
        const text = (p.text ?? p.message ?? '').trim();
        const options = p.options ?? [];
        const allowed = options.find((o) => this.policy.allowPromptOptions.includes(o));
        const what = `advanced order reject${p.messageId ? ` ${p.messageId}` : ''}: ${text || '(no text)'}${options.length ? ` [options: ${options.join(' | ')}]` : ''}`;
        if (!allowed) throw new OrderRejectedError(cOID, what, false, { endpoint });
        return this.answerPrompt(p.orderId, p.reqId ?? '', allowed, cOID, what, confirmed);
      }
      // An answer we cannot read: the order may or may not exist — find out.
      return this.lookupOrThrow(cOID, endpoint, new ResponseShapeError(endpoint, '', `is not an order answer: ${JSON.stringify(json)?.slice(0, 120)}`), confirmed);
    }
  }

  /**
   * Sends the option the reply policy allows for an advanced order reject, then reads the order's
   * fate back by order status; the answer to the notification is never taken as "placed".
   */
  private async answerPrompt(orderId: number, reqId: string, option: string, cOID: string, what: string, confirmed: PlacedOrder['confirmed']): Promise<PlacedOrder> {
    const endpoint = 'POST /iserver/notification';
    this.api.log.warn({ cOID, orderId, option, prompt: what }, 'advanced order reject: answering with the option the reply policy allows');
    confirmed.push({ messageIds: [what.split(':')[0] ?? ''], messages: [`${what} → ${option}`] });
    try {
      await this.api.requestRaw({
        method: 'POST', path: '/iserver/notification', body: { orderId, reqId, text: option },
        requires: 'iserver', priority: 'order', idempotent: false,
      });
    } catch (err) {
      return this.lookupOrThrow(cOID, endpoint, err, confirmed, orderId);
    }
    const r = await this.lookup(cOID, { orderId });
    if (r.kind === 'found') {
      if (r.order.status === 'Inactive' || r.order.status === 'Cancelled') throw new OrderRejectedError(cOID, `${what} (answered "${option}"; the order is ${r.order.status})`, false, { endpoint });
      return { ...this.fromLookup(r.order, cOID, confirmed), resolvedBy: 'placement' };
    }
    throw new OrderOutcomeUnknownError(endpoint, cOID, new Error(`${what}; answered "${option}" and the order could not be read back (${r.reason})`));
  }

  private post(path: string, body: unknown): Promise<unknown> {
    return this.api
      .requestRaw({ method: 'POST', path, body, requires: 'iserver', priority: 'order', allowErrorBody: true, idempotent: false })
      .then((r) => r.json ?? null);
  }

  private async decline(replyId: string): Promise<void> {
    try {
      await this.post(`/iserver/reply/${encodeURIComponent(replyId)}`, { confirmed: false });
    } catch {
      /* declining is best effort: an unanswered question never places the order */
    }
  }

  private async afterFailure(err: unknown, cOID: string, endpoint: string, confirmed: PlacedOrder['confirmed']): Promise<PlacedOrder> {
    // Retryable (a timeout, a 5xx, a reset connection): the order may have gone through. By code only.
    const uncertain = err instanceof GatewayTimeoutError || (err instanceof ApiError && err.status >= 500) || (err instanceof GatewayUnreachableError && err.retryable);
    if (err instanceof ApiError && err.code === 'IBKR_DUPLICATE_COID') return this.lookupOrThrow(cOID, endpoint, err, confirmed);
    // "no bridge" (HTTP 400 on real gateways) is a session that is not ready, never a rejection.
    if (err instanceof ApiError && err.code === 'IBKR_NO_BRIDGE') return this.lookupOrThrow(cOID, endpoint, err, confirmed);
    if (!uncertain) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) {
        throw new OrderRejectedError(cOID, err.gatewayMessage, false, { endpoint, cause: err });
      }
      throw err;
    }
    return this.lookupOrThrow(cOID, endpoint, err, confirmed);
  }

  private async lookupOrThrow(cOID: string, endpoint: string, cause: unknown, confirmed: PlacedOrder['confirmed'], orderId?: number): Promise<PlacedOrder> {
    this.api.log.warn({ cOID, endpoint, err: (cause as Error)?.message }, 'order placement outcome uncertain; looking the cOID up');
    // Right after a failed placement the order may take seconds to show: several reads here.
    const r = await this.lookup(cOID, { ...(orderId ? { orderId } : {}), reads: this.lookupReads });
    if (r.kind === 'found') return this.fromLookup(r.order, cOID, confirmed);
    const exists = cause instanceof ApiError && cause.code === 'IBKR_DUPLICATE_COID';
    throw new OrderOutcomeUnknownError(endpoint, cOID, cause, exists);
  }

  private fromLookup(o: LiveOrder, cOID: string, confirmed: PlacedOrder['confirmed']): PlacedOrder {
    return { orderId: o.orderId, cOID, status: o.status, resolvedBy: 'lookup', confirmed };
  }
}

function sumIfBoth(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined ? a + b : undefined;
}

/** An order as its executions show it (no order id unless a row carries one; status not known). */
function orderFromExecutions(cOID: string, execs: Execution[]): LiveOrder {
  const qty = execs.reduce((s, e) => s + e.size, 0);
  const value = execs.reduce((s, e) => s + e.size * e.price, 0);
  const first = execs[0]!;
  return {
    orderId: execs.find((e) => e.orderId !== undefined)?.orderId ?? 0,
    cOID, conid: first.conid, side: first.side, account: first.account, status: 'Unknown',
    filledQuantity: qty, ...(qty > 0 ? { avgPrice: value / qty } : {}),
    lastExecutionTime: Math.max(...execs.map((e) => e.time ?? 0)) || undefined,
  };
}
