/**
 * The journal in memory: the same methods and the same rules as the SQLite journal (journal.ts:
 * orders only move forward, a fill is booked once by execution id and attributed to its order's
 * strategy, a run counts its own orders and fills), kept in maps and arrays instead of a file.
 *
 * Why: a backtest drives the live trading node (orders journalled before they are sent, fills
 * journalled as they arrive), but it has nothing to recover after a crash, so it needs no file and
 * must not pay a disk write per bar. `keepBars: false` (the backtester's choice) counts bar rows
 * and equity points instead of keeping them: the backtest result holds its own equity curve, and a
 * million-bar run must not hold a million journal rows too. For the same reason a backtest keeps
 * no order events (`keepOrderEvents: false`: nothing reads them) and only the most recent settled
 * orders (`keepSettledOrders`: an order that is filled, cancelled or rejected, with its fills, is
 * forgotten once that many later ones have settled; open orders are always kept, and the run's
 * order and fill counts count every one) and recent decision rows (`keepDecisions`). Tens of
 * thousands of retained orders made every garbage collection of a long backtest slower.
 */
import type { JournalApi } from './journal-api.ts';
import { forwardState } from './order-states.ts';
import type {
  AttributedFill,
  JournalBar,
  JournalFill,
  JournalOrder,
  JournalOrderState,
  JournalPosition,
  NewJournalOrder,
} from './journal.ts';

const OPEN: ReadonlySet<JournalOrderState> = new Set(['new', 'unknown', 'working', 'partial']);

interface StoredFill extends AttributedFill {
  runId: number | null;
}

export interface MemoryJournalOptions {
  /** Keep bar rows and equity points (default true); false counts them only. */
  keepBars?: boolean;
  /** Keep order events (default true); false writes none. */
  keepOrderEvents?: boolean;
  /** Keep only this many settled orders (with their fills), the most recently settled; default all. */
  keepSettledOrders?: number;
  /** Keep only about this many of the most recent decision rows (the count counts all); default all. */
  keepDecisions?: number;
}

const byCreation = (a: JournalOrder, b: JournalOrder): number => a.createdAt - b.createdAt || (a.cOID < b.cOID ? -1 : a.cOID > b.cOID ? 1 : 0);

export class MemoryJournal implements JournalApi {
  readonly file = ':memory:';
  /** Orders, each with the run that placed it (copies handed out leave the run out). */
  private readonly ordersByCoid = new Map<string, JournalOrder & { runId: number | null }>();
  private readonly openCoids = new Set<string>();
  /** Order events; the detail is kept as built here (fresh each time) and written as JSON when read. */
  private readonly events: { coid: string; time: number; state: string; detail: unknown }[] = [];
  /** Settled orders in the order they settled (`keepSettledOrders`: the oldest are forgotten). */
  private readonly settled: string[] = [];
  private settledHead = 0;
  /** Orders and fills recorded, per run and strategy: forgotten orders still count. */
  private readonly counts = new Map<number | null, Map<string, { orders: number; fills: number }>>();
  private readonly fillsById = new Map<string, StoredFill>();
  private readonly fillsByCoid = new Map<string, StoredFill[]>();
  /** Positions by strategy, then contract. */
  private readonly positionRows = new Map<string, Map<number, JournalPosition>>();
  private readonly barRows = new Map<string, JournalBar & { warmup: boolean }>();
  private readonly equityRows: { time: number; strategyId: string; equity: number; cash: number }[] = [];
  private readonly decisionRows: DecisionRow[] = [];
  /** Decision rows forgotten (`keepDecisions`): the oldest ones. */
  private decisionsDropped = 0;
  /** Saved states as given (a strategy's saveState() returns a fresh snapshot); copied on load, as a JSON round trip would. */
  private readonly states = new Map<string, { barTime: number | null; state: unknown }>();
  /** cOIDs by strategy, then intent (no joined key to build and hash for every order). */
  private readonly byIntent = new Map<string, Map<string, string[]>>();
  private readonly incidentRows: { time: number; strategyId: string | null; kind: string; detail: string | null }[] = [];
  private readonly meta = new Map<string, string>();
  private readonly runs: { id: number; startedAt: number; strategies: string[] }[] = [];
  private runId: number | null = null;
  /** Bar closes recorded (kept or not). */
  barCloses = 0;

  constructor(private readonly opts: MemoryJournalOptions = {}) {}

  journalMode(): string {
    return 'memory';
  }

  // ---------------------------------------------------------------- runs and strategies

  startRun(strategyIds: string[], now = Date.now()): number {
    this.runId = this.runs.length + 1;
    this.runs.push({ id: this.runId, startedAt: now, strategies: [...strategyIds] });
    return this.runId;
  }

  runCounts(runId: number, strategyId?: string): { orders: number; fills: number } {
    const run = this.counts.get(runId);
    if (strategyId !== undefined) {
      const c = run?.get(strategyId);
      return { orders: c?.orders ?? 0, fills: c?.fills ?? 0 };
    }
    let orders = 0;
    let fills = 0;
    for (const c of run?.values() ?? []) {
      orders += c.orders;
      fills += c.fills;
    }
    return { orders, fills };
  }

  private count(runId: number | null, strategyId: string): { orders: number; fills: number } {
    let run = this.counts.get(runId);
    if (!run) this.counts.set(runId, (run = new Map()));
    let c = run.get(strategyId);
    if (!c) run.set(strategyId, (c = { orders: 0, fills: 0 }));
    return c;
  }

  /** A memory journal starts empty: it never holds rows of a version-1 file. */
  hasLegacyRows(): boolean {
    return false;
  }

  legacySymbols(): string[] {
    return [];
  }

  claimLegacyRows(_strategyId: string): void {}

  // ---------------------------------------------------------------- orders

  recordNewOrder(o: NewJournalOrder, now = Date.now(), meta?: { key: string; value: string }): void {
    if (this.ordersByCoid.has(o.cOID)) throw new Error(`journal: order ${o.cOID} already exists (a cOID is never reused)`);
    if (meta) this.meta.set(meta.key, meta.value);
    this.ordersByCoid.set(o.cOID, {
      cOID: o.cOID, strategyId: o.strategyId, intentId: o.intentId, leg: o.leg, conid: o.conid, symbol: o.symbol, side: o.side,
      quantity: o.quantity, cashQty: o.cashQty, orderType: o.orderType, tif: o.tif,
      state: 'new', brokerOrderId: null, filledQty: 0, avgPrice: 0, createdAt: now, updatedAt: now, lastError: null, runId: this.runId,
    });
    this.openCoids.add(o.cOID);
    this.count(this.runId, o.strategyId).orders++;
    let intents = this.byIntent.get(o.strategyId);
    if (!intents) this.byIntent.set(o.strategyId, (intents = new Map()));
    const list = intents.get(o.intentId);
    if (list) list.push(o.cOID);
    else intents.set(o.intentId, [o.cOID]);
    if (this.opts.keepOrderEvents !== false) this.events.push({ coid: o.cOID, time: now, state: 'new', detail: { side: o.side, quantity: o.quantity, cashQty: o.cashQty } });
  }

  updateOrder(
    cOID: string,
    requested: JournalOrderState,
    fields: { brokerOrderId?: string | null; filledQty?: number; avgPrice?: number; error?: string; detail?: unknown } = {},
    now = Date.now(),
  ): JournalOrderState {
    const cur = this.ordersByCoid.get(cOID);
    const state = cur ? forwardState(cur, requested, fields.error) : requested;
    if (cur) {
      cur.state = state;
      if (fields.brokerOrderId) cur.brokerOrderId = fields.brokerOrderId;
      // The filled quantity never shrinks; the average price follows a quantity that did not shrink.
      const filled = fields.filledQty ?? cur.filledQty;
      if (filled >= cur.filledQty && fields.avgPrice !== undefined) cur.avgPrice = fields.avgPrice;
      cur.filledQty = Math.max(cur.filledQty, filled);
      if (state === requested && fields.error) cur.lastError = fields.error;
      cur.updatedAt = now;
      if (OPEN.has(state)) this.openCoids.add(cOID);
      else if (this.openCoids.delete(cOID) && this.opts.keepSettledOrders !== undefined) this.settle(cOID);
    }
    if (this.opts.keepOrderEvents === false) return state;
    // The same keys in the same order as the SQLite journal's detail; its JSON is written when read
    // (a nested detail is copied now: a caller may change its object later).
    const detail: Record<string, unknown> = {};
    if (fields.brokerOrderId) detail.brokerOrderId = fields.brokerOrderId;
    if (fields.filledQty !== undefined) detail.filledQty = fields.filledQty;
    if (fields.error) detail.error = fields.error;
    if (fields.detail !== undefined) detail.detail = snapshot(fields.detail);
    if (state !== requested) detail.refused = requested;
    this.events.push({ coid: cOID, time: now, state, detail });
    return state;
  }

  /** An order left the open ones: beyond `keepSettledOrders` later settled ones, the oldest settled order and its fills are forgotten. */
  private settle(cOID: string): void {
    this.settled.push(cOID);
    if (this.settled.length - this.settledHead <= this.opts.keepSettledOrders!) return;
    const old = this.settled[this.settledHead++]!;
    if (this.settledHead >= this.opts.keepSettledOrders!) {
      this.settled.splice(0, this.settledHead);
      this.settledHead = 0;
    }
    const o = this.ordersByCoid.get(old);
    if (!o || OPEN.has(o.state)) return;
    this.ordersByCoid.delete(old);
    for (const f of this.fillsByCoid.get(old) ?? []) this.fillsById.delete(f.execId);
    this.fillsByCoid.delete(old);
    const intents = this.byIntent.get(o.strategyId);
    const list = intents?.get(o.intentId);
    if (list) {
      const i = list.indexOf(old);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) intents!.delete(o.intentId);
    }
  }

  order(cOID: string): JournalOrder | undefined {
    const o = this.ordersByCoid.get(cOID);
    return o ? copyOrder(o) : undefined;
  }

  /** The stored row itself, to read at once: no copy (the order manager reads a row several times per order). */
  orderNow(cOID: string): Readonly<JournalOrder> | undefined {
    return this.ordersByCoid.get(cOID);
  }

  openOrders(): JournalOrder[] {
    return [...this.openCoids].map((c) => copyOrder(this.ordersByCoid.get(c)!)).sort(byCreation);
  }

  orders(strategyId?: string): JournalOrder[] {
    return [...this.ordersByCoid.values()].filter((o) => strategyId === undefined || o.strategyId === strategyId).map(copyOrder).sort(byCreation);
  }

  ordersOfIntent(strategyId: string, intentId: string): JournalOrder[] {
    return (this.byIntent.get(strategyId)?.get(intentId) ?? []).map((c) => copyOrder(this.ordersByCoid.get(c)!)).sort(byCreation);
  }

  orderEvents(cOID?: string): { coid: string; time: number; state: string; detail: string | null }[] {
    return this.events.filter((e) => cOID === undefined || e.coid === cOID).map((e) => ({ coid: e.coid, time: e.time, state: e.state, detail: JSON.stringify(e.detail) }));
  }

  // ---------------------------------------------------------------- fills and positions

  recordFill(f: JournalFill): boolean {
    if (this.fillsById.has(f.execId)) return false;
    const strategyId = (f.cOID ? this.ordersByCoid.get(f.cOID)?.strategyId : undefined) ?? '';
    const row: StoredFill = {
      execId: f.execId, cOID: f.cOID, brokerOrderId: f.brokerOrderId, conid: f.conid, side: f.side, qty: f.qty, price: f.price,
      commission: f.commission, time: f.time, strategyId, runId: this.runId,
    };
    this.fillsById.set(f.execId, row);
    this.count(this.runId, strategyId).fills++;
    if (f.cOID) {
      const list = this.fillsByCoid.get(f.cOID);
      if (list) list.push(row);
      else this.fillsByCoid.set(f.cOID, [row]);
    }
    return true;
  }

  hasFill(execId: string): boolean {
    return this.fillsById.has(execId);
  }

  filledQty(cOID: string): number {
    let q = 0;
    for (const f of this.fillsByCoid.get(cOID) ?? []) q += f.qty;
    return q;
  }

  avgFillPrice(cOID: string): number | undefined {
    let q = 0;
    let v = 0;
    for (const f of this.fillsByCoid.get(cOID) ?? []) {
      q += f.qty;
      v += f.qty * f.price;
    }
    return q > 0 ? v / q : undefined;
  }

  fills(strategyId?: string): AttributedFill[] {
    return [...this.fillsById.values()]
      .filter((f) => strategyId === undefined || f.strategyId === strategyId)
      .sort((a, b) => a.time - b.time || (a.execId < b.execId ? -1 : a.execId > b.execId ? 1 : 0))
      .map(({ runId: _r, ...f }) => f);
  }

  setPosition(strategyId: string, conid: number, symbol: string, qty: number, avgCost: number, _now = Date.now()): void {
    let rows = this.positionRows.get(strategyId);
    if (!rows) this.positionRows.set(strategyId, (rows = new Map()));
    // The row is changed in place (positions() hands out copies): one object less per fill.
    const row = rows.get(conid);
    if (row) {
      row.symbol = symbol;
      row.qty = qty;
      row.avgCost = avgCost;
    } else rows.set(conid, { strategyId, conid, symbol, qty, avgCost });
  }

  positions(strategyId?: string): JournalPosition[] {
    return [...this.positionRows.values()]
      .flatMap((rows) => [...rows.values()])
      .filter((p) => p.qty !== 0 && (strategyId === undefined || p.strategyId === strategyId))
      .sort((a, b) => (a.strategyId < b.strategyId ? -1 : a.strategyId > b.strategyId ? 1 : a.conid - b.conid))
      .map((p) => ({ ...p }));
  }

  // ---------------------------------------------------------------- bars, equity, decisions, state

  recordBars(bars: JournalBar[], warmup = false): void {
    if (this.opts.keepBars === false) return;
    for (const b of bars) this.barRows.set(`${b.time}\u0000${b.symbol}`, { ...b, warmup });
  }

  recordBarClose(strategyId: string, bars: JournalBar[], time: number, equity: number, cash: number): void {
    this.barCloses++;
    if (this.opts.keepBars === false) return;
    for (const b of bars) this.barRows.set(`${b.time}\u0000${b.symbol}`, { ...b, warmup: false });
    this.equityRows.push({ time, strategyId, equity, cash });
  }

  bars(includeWarmup = false): JournalBar[] {
    return [...this.barRows.values()]
      .filter((b) => includeWarmup || !b.warmup)
      .sort((a, b) => a.time - b.time || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
      .map(({ warmup: _w, ...b }) => b);
  }

  recordDecision(strategyId: string, barTime: number, action: string, detail: unknown): void {
    this.decisionRows.push(new DecisionRow(strategyId, barTime, action, detail));
    const keep = this.opts.keepDecisions;
    if (keep !== undefined && this.decisionRows.length > 2 * keep + 64) {
      const drop = this.decisionRows.length - keep;
      this.decisionRows.splice(0, drop);
      this.decisionsDropped += drop;
    }
  }

  decisions(strategyId?: string): { strategyId: string; barTime: number; action: string; detail: string | null }[] {
    return this.decisionRows.filter((d) => strategyId === undefined || d.strategyId === strategyId).map((d) => ({ strategyId: d.strategyId, barTime: d.barTime, action: d.action, detail: d.detail }));
  }

  /** Decisions recorded so far, and those after the first `from` (a backtest reads each bar's new rows). */
  get decisionCount(): number {
    return this.decisionsDropped + this.decisionRows.length;
  }

  /** (With `keepDecisions`, of the rows still kept.) */
  decisionsSince(from: number): { strategyId: string; barTime: number; action: string; detail: string | null; value: unknown }[] {
    return this.decisionRows.slice(Math.max(0, from - this.decisionsDropped));
  }

  saveStrategyState(strategyId: string, barTime: number | null, state: unknown, _now = Date.now()): void {
    this.states.set(strategyId, { barTime, state });
  }

  loadStrategyState(strategyId: string): { barTime: number | null; state: unknown } | undefined {
    const r = this.states.get(strategyId);
    return r ? { barTime: r.barTime, state: JSON.parse(JSON.stringify(r.state)) as unknown } : undefined;
  }

  // ---------------------------------------------------------------- incidents and meta

  recordIncident(kind: string, detail: unknown, strategyId: string | null = null, now = Date.now()): void {
    this.incidentRows.push({ time: now, strategyId, kind, detail: JSON.stringify(detail) });
  }

  incidents(): { time: number; strategyId: string | null; kind: string; detail: string | null }[] {
    return this.incidentRows.map((i) => ({ ...i }));
  }

  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }

  /** Nothing to copy back: there is no write-ahead log in memory. */
  checkpoint(_every = 100): void {}

  close(): void {}
}

/**
 * A decision row. Its detail is kept as given (the runner hands over a fresh object a decision: the
 * strategy's decision, z, beta, equity; or a refusal's reason) and written as JSON when first read:
 * a backtest reads the detail of refusals only, and a JSON string a decision was most of its cost.
 */
class DecisionRow {
  private json: string | undefined;
  constructor(
    readonly strategyId: string,
    readonly barTime: number,
    readonly action: string,
    /** The detail as given (a backtest reads a refusal's reason from it, without a JSON round trip). */
    readonly value: unknown,
  ) {}

  get detail(): string | null {
    return (this.json ??= JSON.stringify(this.value));
  }
}

/** A copy, as each read of the SQLite journal returns a new row (callers may hold it across updates). */
function copyOrder(o: JournalOrder): JournalOrder {
  return {
    cOID: o.cOID, strategyId: o.strategyId, intentId: o.intentId, leg: o.leg, conid: o.conid, symbol: o.symbol, side: o.side,
    quantity: o.quantity, cashQty: o.cashQty, orderType: o.orderType, tif: o.tif,
    state: o.state, brokerOrderId: o.brokerOrderId, filledQty: o.filledQty, avgPrice: o.avgPrice, createdAt: o.createdAt, updatedAt: o.updatedAt, lastError: o.lastError,
  };
}

/** A nested event detail kept as it is now: plain values as they are, an object or array copied (callers pass flat ones). */
function snapshot(v: unknown): unknown {
  if (Array.isArray(v)) return [...(v as unknown[])];
  return v !== null && typeof v === 'object' ? { ...v } : v;
}
