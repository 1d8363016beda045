/** Order endpoints (§6): place, reply, suppress, what-if, modify, cancel, live orders, status, trades. */
import type { SimCore } from '../core.ts';
import { fmtAmount } from '../format.ts';
import type { OrderStatus, PlaceResult } from '../orders.ts';
import { errorBody, type ApiResponse, type Router } from '../router.ts';
import { isAccount, pathAccount } from './accounts.ts';
import { isMarketOpen } from '../hours.ts';

function toResponse(r: PlaceResult): ApiResponse {
  if (r.kind === 'error') return { status: r.status, body: r.body };
  return { body: r.body };
}

/** Status filter names in both spellings of §6.7, lower-cased. */
const FILTER_NAMES: Record<string, OrderStatus> = {
  inactive: 'Inactive', pending_submit: 'PendingSubmit', pendingsubmit: 'PendingSubmit', pre_submitted: 'PreSubmitted',
  presubmitted: 'PreSubmitted', submitted: 'Submitted', filled: 'Filled', pending_cancel: 'PendingCancel', pendingcancel: 'PendingCancel',
  cancelled: 'Cancelled',
};

export function registerOrderRoutes(r: Router, core: SimCore): void {
  const s = core.session;
  const book = core.orders;

  r.add('POST', '/iserver/account/{acct}/orders', 'primed', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const b = req.body as { orders?: unknown } | undefined;
    if (!b || !Array.isArray(b.orders)) return errorBody(400, 'Bad Request: body must be {"orders":[...]}');
    const tickets = b.orders.filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null);
    const result = book.place(a, tickets, a.id);
    // Fault: the placement goes through but the caller gets a 503 after a long wait (§11 item 15).
    if (result.kind === 'accepted' && core.faults.order503()) {
      return { status: 503, contentType: 'application/json;charset=utf-8', body: '', delayMs: core.faults.config.order503DelayMs,
        headers: { 'x-response-time': `${core.faults.config.order503DelayMs}ms` } };
    }
    return toResponse(result);
  });
  // Old single-order path of the swagger spec.
  r.add('POST', '/iserver/account/{acct}/order', 'primed', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const t = req.body as Record<string, unknown> | undefined;
    if (!t || typeof t !== 'object') return errorBody(400, 'Bad Request: order body required');
    return toResponse(book.place(a, [t], a.id));
  });

  r.add('POST', '/iserver/reply/{id}', 'primed', (req) => {
    const b = (req.body ?? {}) as { confirmed?: unknown };
    if (typeof b.confirmed !== 'boolean') return errorBody(400, 'Bad Request: confirmed (boolean) is required');
    return toResponse(book.reply(req.params.id!, b.confirmed));
  });

  r.add('POST', '/iserver/notification', 'primed', (req) => {
    const b = (req.body ?? {}) as { orderId?: unknown; reqId?: unknown; text?: unknown };
    if (b.orderId === undefined || b.reqId === undefined || typeof b.text !== 'string') return errorBody(400, 'Bad Request: orderId, reqId and text are required');
    const r0 = book.answerPrompt(Number(b.orderId), String(b.reqId), b.text);
    return { status: r0.status, body: r0.body };
  });

  r.add('POST', '/iserver/questions/suppress', 'brokerage', (req) => {
    const b = (req.body ?? {}) as { messageIds?: unknown };
    if (!Array.isArray(b.messageIds) || !b.messageIds.every((x) => typeof x === 'string')) return errorBody(400, 'Bad Request: messageIds (array of strings) is required');
    if (b.messageIds.length > 51) return errorBody(400, 'Bad Request: at most 51 message ids');
    for (const id of b.messageIds as string[]) s.suppressed.add(id);
    return { body: { status: 'submitted' } };
  });
  r.add('POST', '/iserver/questions/suppress/reset', 'brokerage', () => {
    s.suppressed.clear();
    return { body: { status: 'submitted' } };
  });

  r.add('POST', '/iserver/account/{acct}/orders/whatif', 'primed', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    if (core.opts.realism.replyInvalidatedByOtherOrders) book.invalidateReplies();
    const b = req.body as { orders?: unknown } | undefined;
    const t = Array.isArray(b?.orders) ? (b.orders[0] as Record<string, unknown> | undefined) : undefined;
    if (!t) return errorBody(400, 'Bad Request: body must be {"orders":[...]}');
    const d = book.parseTicket(t, a.id);
    if (typeof d === 'string') return errorBody(400, d);
    const q = core.market.quote(d.conid, core.clock.now());
    if (!q) return { body: { error: `Contract conid:${d.conid} is not supported` } };
    const px = d.orderType === 'LMT' ? d.price! : d.side === 'BUY' ? q.ask : q.bid;
    const qty = d.quantity ?? (d.cashQty ?? 0) / px;
    const inst = core.instruments.get(d.conid)!;
    const notional = qty * px;
    const commission = inst.secType === 'CRYPTO' ? Math.max(1.75, notional * 0.0018) : Math.max(1, qty * 0.005);
    const m = book.marks(a);
    const margin = inst.secType === 'CRYPTO' ? notional : notional * 0.5;
    const pos = a.positions.get(d.conid)?.qty ?? 0;
    const sign = d.side === 'BUY' ? 1 : -1;
    const f0 = (x: number) => fmtAmount(x, 0);
    return {
      body: {
        amount: { amount: `${fmtAmount(notional)} USD (${qty} ${inst.secType === 'CRYPTO' ? 'Units' : 'Shares'})`, commission: `${fmtAmount(commission)} USD`, total: `${fmtAmount(notional + commission)} USD` },
        equity: { current: f0(m.netLiq), change: f0(-commission), after: f0(m.netLiq - commission) },
        initial: { current: f0(m.initMargin), change: f0(margin), after: f0(m.initMargin + margin) },
        maintenance: { current: f0(m.initMargin * 0.8), change: f0(margin * 0.8), after: f0((m.initMargin + margin) * 0.8) },
        position: { current: String(pos), change: String(sign * qty), after: String(pos + sign * qty) },
        warn: core.md.has(d.conid) ? null : '21/You are trying to submit an order without having market data for this instrument.',
        error: null,
      },
    };
  });

  r.add('POST', '/iserver/account/{acct}/order/{orderId}', 'primed', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const t = req.body as Record<string, unknown> | undefined;
    if (!t || typeof t !== 'object' || Array.isArray(t)) return errorBody(400, 'Bad Request: order object required');
    return toResponse(book.modify(a, Number(req.params.orderId), t));
  });

  r.add('DELETE', '/iserver/account/{acct}/order/{orderId}', 'primed', (req) => {
    const a = pathAccount(core, req.params.acct);
    if (!isAccount(a)) return a;
    const res = book.cancel(a, Number(req.params.orderId));
    return { status: res.status, body: res.body };
  });

  r.add('GET', '/iserver/account/orders', 'primed', (req) => {
    const a = core.sessionAccount();
    const realism = core.opts.realism;
    if (req.query.get('force') === 'true') {
      s.ordersWarm = true;
      core.sorPaused = false;
      // Voyz/ibind #90: a forced read answers an empty object.
      return { body: realism.liveOrdersForceEmptyObject ? {} : { orders: [], snapshot: false } };
    }
    if (realism.liveOrdersPreflight && !s.ordersWarm) {
      s.ordersWarm = true;
      return { body: { orders: [], snapshot: false } };
    }
    const filterRaw = req.query.get('filters');
    let wanted: Set<OrderStatus> | undefined;
    if (filterRaw) {
      if (realism.filtersPauseSor) core.sorPaused = true;
      wanted = new Set();
      for (const f of filterRaw.split(',')) {
        const st = FILTER_NAMES[f.trim().toLowerCase()];
        if (st) wanted.add(st);
        else if (f.trim().toLowerCase() !== 'sort_by_time' && f.trim().toLowerCase() !== 'sortbytime') return errorBody(500, `Unknown filter ${f}`);
      }
    }
    // Voyz/ibind #43: after regular hours (and right after a session starts) the list comes back empty
    // although orders exist; crypto trades around the clock, so this hits every night.
    const afterLogin = realism.liveOrdersEmptyAfterLoginMs > 0 && Date.now() - s.brokerageSince < realism.liveOrdersEmptyAfterLoginMs;
    if (afterLogin || (realism.liveOrdersEmptyOutsideRth && !isMarketOpen('stock', core.clock.now()))) {
      core.emptyLiveOrderReads++;
      return { body: { snapshot: true } }; // the answer of an account without orders
    }
    const terminal = new Set(['Filled', 'Cancelled', 'Inactive']);
    const rows = [...book.orders.values()]
      .filter((o) => o.acctId === a.id && !(terminal.has(o.status) && o.lastExecAt < core.ordersListedFrom))
      .filter((o) => !wanted || wanted.size === 0 || wanted.has(o.status))
      .sort((x, y) => y.lastExecAt - x.lastExecAt || y.orderId - x.orderId).map((o) => book.liveRow(o));
    if (!rows.length) return { body: { snapshot: true } };
    return { body: { orders: rows, snapshot: true } };
  });

  r.add('GET', '/iserver/account/order/status/{orderId}', 'primed', (req) => {
    const id = Number(req.params.orderId);
    const o = book.orders.get(id);
    if (!o || o.acctId !== core.sessionAccount().id) return errorBody(503, `Order ${req.params.orderId} is not found`);
    return { body: book.statusRow(o) };
  });

  r.add('GET', '/iserver/account/trades', 'primed', (req) => {
    if (core.opts.realism.tradesEmptyFirstRead && !s.tradesWarm) {
      s.tradesWarm = true;
      return { body: [] };
    }
    const days = Math.min(7, Math.max(1, Number(req.query.get('days') ?? 1) || 1));
    const since = core.clock.now() - days * 86_400_000;
    const acct = core.sessionAccount().id;
    return { body: book.executions.filter((e) => e.acct === acct && e.time >= since).map((e) => book.executionRow(e)) };
  });
}
