/**
 * The engine's journal: one SQLite file (WAL) per engine instance under the data directory.
 *
 * It holds every order (written before the order is sent), every status change, every fill, the
 * positions the engine believes it holds, equity points, the bars it built, its decisions and the
 * strategy state. A crash at any point leaves a journal from which a restart can tell which orders
 * might be at the broker (they are then looked up by cOID, never re-sent).
 *
 * Writes are synchronous (better-sqlite3) with `synchronous = FULL`, so a row reported written is
 * on disk before the next step (sending the order) starts.
 */
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import type { Side } from '../brokers/types.ts';
import { ensurePrivateDir, tightenFile } from '../util/private-files.ts';
import { storageError } from './storage-error.ts';

/** Order states in the journal (the order manager's state machine). */
export type JournalOrderState =
  /** Written, not yet handed to the broker. */
  | 'new'
  /** Handed to the broker; no answer yet (a crash here means: look the cOID up). */
  | 'sending'
  /** The placement's outcome is unknown (timeout, 5xx): to be resolved by cOID lookup. */
  | 'unknown'
  /** Accepted by the broker, working. */
  | 'working'
  | 'partial'
  | 'filled'
  | 'cancelled'
  | 'rejected';

export const OPEN_JOURNAL_STATES: readonly JournalOrderState[] = ['new', 'sending', 'unknown', 'working', 'partial'];

// ---- forward-only order states (issue 12) ------------------------------------------------------
// A junk answer once moved an order journalled as filled to "never placed". What the journal knows
// only grows: a state change that would move an order back is refused (the order keeps its state,
// and the refusal is journalled as an event), and the filled quantity never shrinks.

const STATE_RANK: Record<JournalOrderState, number> = {
  new: 0, sending: 1, unknown: 1, working: 2, partial: 3, filled: 4, cancelled: 4, rejected: 4,
};

/**
 * "Never placed" (the broker does not know the cOID) is the one provisional end: it can only be
 * said of an order the broker may never have seen, and the order may still turn up afterwards.
 */
export const NEVER_PLACED = 'never placed';

/** The state an update may move the order to: `next`, or `cur` when `next` would go backwards. */
export function forwardState(cur: Pick<JournalOrder, 'state' | 'lastError' | 'brokerOrderId'>, next: JournalOrderState, error?: string): JournalOrderState {
  if (next === cur.state) return next;
  const provisional = cur.state === 'rejected' && (cur.lastError ?? '').includes(NEVER_PLACED);
  if (provisional) return next; // seen at the broker after all: whatever it says is news
  if (STATE_RANK[cur.state] === 4) return cur.state; // filled, cancelled, rejected are final
  if (next === 'rejected' && (error ?? '').includes(NEVER_PLACED) && (STATE_RANK[cur.state] >= 2 || cur.brokerOrderId)) return cur.state;
  return STATE_RANK[next] >= STATE_RANK[cur.state] ? next : cur.state;
}
// ---- end forward-only order states --------------------------------------------------------------

export interface JournalOrder {
  cOID: string;
  /** Groups the orders of one decision (both legs, a retry, a flatten). */
  intentId: string;
  /** 'y', 'x', 'combo' or 'flatten'. */
  leg: string;
  conid: number;
  symbol: string;
  side: Side;
  quantity: number | null;
  cashQty: number | null;
  orderType: string;
  tif: string;
  state: JournalOrderState;
  brokerOrderId: string | null;
  filledQty: number;
  avgPrice: number;
  createdAt: number;
  updatedAt: number;
  lastError: string | null;
}

export interface JournalFill {
  execId: string;
  cOID: string | null;
  brokerOrderId: string;
  conid: number;
  side: Side;
  qty: number;
  price: number;
  commission: number;
  time: number;
}

export interface JournalBar {
  time: number;
  symbol: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  coid TEXT PRIMARY KEY, intent_id TEXT NOT NULL, leg TEXT NOT NULL, conid INTEGER NOT NULL,
  symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL, cash_qty REAL, order_type TEXT NOT NULL,
  tif TEXT NOT NULL, state TEXT NOT NULL, broker_order_id TEXT, filled_qty REAL NOT NULL DEFAULT 0,
  avg_price REAL NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
CREATE TABLE IF NOT EXISTS order_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, coid TEXT NOT NULL, time INTEGER NOT NULL,
  state TEXT NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS fills (
  exec_id TEXT PRIMARY KEY, coid TEXT, broker_order_id TEXT NOT NULL, conid INTEGER NOT NULL,
  side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL, time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
  conid INTEGER PRIMARY KEY, symbol TEXT NOT NULL, qty REAL NOT NULL, avg_cost REAL NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS equity (time INTEGER NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bars (
  time INTEGER NOT NULL, symbol TEXT NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
  close REAL NOT NULL, volume REAL NOT NULL, warmup INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (time, symbol)
);
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, bar_time INTEGER NOT NULL, action TEXT NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS strategy_state (id INTEGER PRIMARY KEY CHECK (id = 1), bar_time INTEGER, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT);
`;

interface OrderRow {
  coid: string; intent_id: string; leg: string; conid: number; symbol: string; side: Side;
  quantity: number | null; cash_qty: number | null; order_type: string; tif: string; state: JournalOrderState;
  broker_order_id: string | null; filled_qty: number; avg_price: number; created_at: number; updated_at: number;
  last_error: string | null;
}

function toOrder(r: OrderRow): JournalOrder {
  return {
    cOID: r.coid, intentId: r.intent_id, leg: r.leg, conid: r.conid, symbol: r.symbol, side: r.side,
    quantity: r.quantity, cashQty: r.cash_qty, orderType: r.order_type, tif: r.tif, state: r.state,
    brokerOrderId: r.broker_order_id, filledQty: r.filled_qty, avgPrice: r.avg_price,
    createdAt: r.created_at, updatedAt: r.updated_at, lastError: r.last_error,
  };
}

export class Journal {
  readonly db: Database.Database;
  private readonly stmts;

  /**
   * `synchronous`: FULL (default) makes every write durable against power loss before the next step;
   * NORMAL is durable against a crash of the process (SIGKILL) but may lose the last writes on a
   * power cut (the broker-side reconciliation at start then adopts what the journal missed).
   */
  constructor(readonly file: string, opts: { synchronous?: 'FULL' | 'NORMAL' } = {}) {
    ensurePrivateDir(dirname(file), 'journal directory');
    let db: Database.Database | undefined;
    try {
      db = new Database(file);
      tightenFile(file); // before WAL mode: SQLite gives -wal and -shm the database's mode
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      // Checkpoints run from checkpoint() at quiet moments (after a bar's orders went out), not inside
      // an order's insert, where SQLite's automatic checkpoint would add milliseconds.
      db.pragma('wal_autocheckpoint = 0');
      db.exec(SCHEMA);
    } catch (err) {
      if (db?.open) db.close();
      throw storageError(err, file) ?? err;
    }
    this.db = db;
    this.stmts = {
      insertOrder: db.prepare(`INSERT INTO orders (coid, intent_id, leg, conid, symbol, side, quantity, cash_qty,
        order_type, tif, state, broker_order_id, filled_qty, avg_price, created_at, updated_at, last_error)
        VALUES (@coid, @intent_id, @leg, @conid, @symbol, @side, @quantity, @cash_qty, @order_type, @tif, @state,
        NULL, 0, 0, @now, @now, NULL)`),
      updateOrder: db.prepare(`UPDATE orders SET state = @state, broker_order_id = COALESCE(@broker_order_id, broker_order_id),
        filled_qty = MAX(filled_qty, COALESCE(@filled_qty, filled_qty)),
        avg_price = CASE WHEN COALESCE(@filled_qty, filled_qty) >= filled_qty THEN COALESCE(@avg_price, avg_price) ELSE avg_price END,
        last_error = COALESCE(@last_error, last_error), updated_at = @now WHERE coid = @coid`),
      event: db.prepare('INSERT INTO order_events (coid, time, state, detail) VALUES (?, ?, ?, ?)'),
      getOrder: db.prepare('SELECT * FROM orders WHERE coid = ?'),
      openOrders: db.prepare(`SELECT * FROM orders WHERE state IN (${OPEN_JOURNAL_STATES.map((s) => `'${s}'`).join(',')}) ORDER BY created_at, coid`),
      allOrders: db.prepare('SELECT * FROM orders ORDER BY created_at, coid'),
      insertFill: db.prepare(`INSERT OR IGNORE INTO fills (exec_id, coid, broker_order_id, conid, side, qty, price, commission, time)
        VALUES (@execId, @cOID, @brokerOrderId, @conid, @side, @qty, @price, @commission, @time)`),
      fills: db.prepare('SELECT exec_id AS execId, coid AS cOID, broker_order_id AS brokerOrderId, conid, side, qty, price, commission, time FROM fills ORDER BY time, exec_id'),
      upsertPosition: db.prepare(`INSERT INTO positions (conid, symbol, qty, avg_cost, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(conid) DO UPDATE SET symbol = excluded.symbol, qty = excluded.qty, avg_cost = excluded.avg_cost, updated_at = excluded.updated_at`),
      positions: db.prepare('SELECT conid, symbol, qty, avg_cost AS avgCost FROM positions'),
      equity: db.prepare('INSERT INTO equity (time, equity, cash) VALUES (?, ?, ?)'),
      bar: db.prepare(`INSERT OR REPLACE INTO bars (time, symbol, open, high, low, close, volume, warmup)
        VALUES (@time, @symbol, @open, @high, @low, @close, @volume, @warmup)`),
      bars: db.prepare('SELECT time, symbol, open, high, low, close, volume FROM bars WHERE warmup <= ? ORDER BY time, symbol'),
      decision: db.prepare('INSERT INTO decisions (bar_time, action, detail) VALUES (?, ?, ?)'),
      decisions: db.prepare('SELECT bar_time AS barTime, action, detail FROM decisions ORDER BY id'),
      saveState: db.prepare(`INSERT INTO strategy_state (id, bar_time, state, updated_at) VALUES (1, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET bar_time = excluded.bar_time, state = excluded.state, updated_at = excluded.updated_at`),
      loadState: db.prepare('SELECT bar_time AS barTime, state FROM strategy_state WHERE id = 1'),
      incident: db.prepare('INSERT INTO incidents (time, kind, detail) VALUES (?, ?, ?)'),
      incidents: db.prepare('SELECT time, kind, detail FROM incidents ORDER BY id'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Records a new order before it is sent. Throws if the cOID already exists (never reuse one). */
  recordNewOrder(
    o: Omit<JournalOrder, 'state' | 'brokerOrderId' | 'filledQty' | 'avgPrice' | 'createdAt' | 'updatedAt' | 'lastError'>,
    now = Date.now(),
    /** A meta value written in the same transaction (the cOID sequence). */
    meta?: { key: string; value: string },
  ): void {
    this.db.transaction(() => {
      if (meta) this.stmts.setMeta.run(meta.key, meta.value);
      this.stmts.insertOrder.run({
        coid: o.cOID, intent_id: o.intentId, leg: o.leg, conid: o.conid, symbol: o.symbol, side: o.side,
        quantity: o.quantity, cash_qty: o.cashQty, order_type: o.orderType, tif: o.tif, state: 'new', now,
      });
      this.stmts.event.run(o.cOID, now, 'new', JSON.stringify({ side: o.side, quantity: o.quantity, cashQty: o.cashQty }));
    })();
  }

  /**
   * Moves an order to a new state and journals the change as an event. States only move forward
   * (forwardState): a backward move keeps the state and is journalled as refused. Returns the
   * state the order has afterwards.
   */
  updateOrder(
    cOID: string,
    requested: JournalOrderState,
    fields: { brokerOrderId?: string | null; filledQty?: number; avgPrice?: number; error?: string; detail?: unknown } = {},
    now = Date.now(),
  ): JournalOrderState {
    return this.db.transaction(() => {
      const cur = this.stmts.getOrder.get(cOID) as OrderRow | undefined;
      const state = cur ? forwardState(toOrder(cur), requested, fields.error) : requested;
      this.stmts.updateOrder.run({
        coid: cOID, state, broker_order_id: fields.brokerOrderId ?? null, filled_qty: fields.filledQty ?? null,
        avg_price: fields.avgPrice ?? null, last_error: state === requested ? (fields.error ?? null) : null, now,
      });
      const detail = { ...(fields.brokerOrderId ? { brokerOrderId: fields.brokerOrderId } : {}),
        ...(fields.filledQty !== undefined ? { filledQty: fields.filledQty } : {}),
        ...(fields.error ? { error: fields.error } : {}),
        ...(fields.detail !== undefined ? { detail: fields.detail } : {}),
        ...(state !== requested ? { refused: requested } : {}) };
      this.stmts.event.run(cOID, now, state, JSON.stringify(detail));
      return state;
    })();
  }

  order(cOID: string): JournalOrder | undefined {
    const r = this.stmts.getOrder.get(cOID) as OrderRow | undefined;
    return r ? toOrder(r) : undefined;
  }

  openOrders(): JournalOrder[] {
    return (this.stmts.openOrders.all() as OrderRow[]).map(toOrder);
  }

  orders(): JournalOrder[] {
    return (this.stmts.allOrders.all() as OrderRow[]).map(toOrder);
  }

  orderEvents(cOID?: string): { coid: string; time: number; state: string; detail: string | null }[] {
    return (cOID
      ? this.db.prepare('SELECT coid, time, state, detail FROM order_events WHERE coid = ? ORDER BY id').all(cOID)
      : this.db.prepare('SELECT coid, time, state, detail FROM order_events ORDER BY id').all()) as never;
  }

  /** Records a fill; returns false if this execution was already journalled. */
  recordFill(f: JournalFill): boolean {
    return this.stmts.insertFill.run(f).changes > 0;
  }

  fills(): JournalFill[] {
    return this.stmts.fills.all() as JournalFill[];
  }

  setPosition(conid: number, symbol: string, qty: number, avgCost: number, now = Date.now()): void {
    this.stmts.upsertPosition.run(conid, symbol, qty, avgCost, now);
  }

  positions(): { conid: number; symbol: string; qty: number; avgCost: number }[] {
    return this.stmts.positions.all() as never;
  }

  recordEquity(time: number, equity: number, cash: number): void {
    this.stmts.equity.run(time, equity, cash);
  }

  recordBars(bars: JournalBar[], warmup = false): void {
    this.db.transaction(() => {
      for (const b of bars) this.stmts.bar.run({ ...b, warmup: warmup ? 1 : 0 });
    })();
  }

  /** Bars the engine built (live only) or all of them (history used for warm-up too). */
  bars(includeWarmup = false): JournalBar[] {
    return this.stmts.bars.all(includeWarmup ? 1 : 0) as JournalBar[];
  }

  recordDecision(barTime: number, action: string, detail: unknown): void {
    this.stmts.decision.run(barTime, action, JSON.stringify(detail));
  }

  decisions(): { barTime: number; action: string; detail: string | null }[] {
    return this.stmts.decisions.all() as never;
  }

  saveStrategyState(barTime: number | null, state: unknown, now = Date.now()): void {
    this.stmts.saveState.run(barTime, JSON.stringify(state), now);
  }

  /** The saved strategy state; a damaged one reads as a state no strategy restores (it warms up instead). */
  loadStrategyState(): { barTime: number | null; state: unknown } | undefined {
    const r = this.stmts.loadState.get() as { barTime: number | null; state: string } | undefined;
    if (!r) return undefined;
    try {
      return { barTime: r.barTime, state: JSON.parse(r.state) as unknown };
    } catch (err) {
      return { barTime: r.barTime, state: { type: 'unreadable', version: 0, error: `the saved strategy state is not valid JSON (${(err as Error).message})` } };
    }
  }

  recordIncident(kind: string, detail: unknown, now = Date.now()): void {
    this.stmts.incident.run(now, kind, JSON.stringify(detail));
  }

  incidents(): { time: number; kind: string; detail: string | null }[] {
    return this.stmts.incidents.all() as never;
  }

  getMeta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  private writesSinceCheckpoint = 0;

  /** Copies the WAL back into the database every `every` calls (PASSIVE: never blocks readers). */
  checkpoint(every = 100): void {
    if (++this.writesSinceCheckpoint < every) return;
    this.writesSinceCheckpoint = 0;
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
