/**
 * The node's journal: one SQLite file (WAL) per trading node under the data directory, shared by
 * every strategy the node runs.
 *
 * It holds every order (written before the order is sent), every status change, every fill, the
 * positions each strategy believes it holds, equity points, the bars, decisions, one saved state per
 * strategy, incidents and the runs. A crash at any point leaves a journal from which a restart can
 * tell which orders might be at the broker (they are then looked up by cOID, never re-sent).
 *
 * Writes are synchronous (node:sqlite's DatabaseSync, see ./sqlite.ts) with `synchronous = FULL`, so
 * a row reported written is on disk before the next step (sending the order) starts. The database handle is private: callers
 * use the intent-level methods below (record an order, a fill, a bar close...), so the schema can
 * change without touching the engine.
 *
 * Schema version 2 (issue 13, one node / many strategies). Changes from version 1, applied by
 * `migrate()` when an older file is opened:
 *   - `orders.strategy_id`, `fills.strategy_id`, `decisions.strategy_id`, `equity.strategy_id`,
 *     `incidents.strategy_id`: the strategy that placed / owns the row. Rows of a version-1 journal
 *     get '' (the single strategy it ran) and are claimed by `claimLegacyRows(id)` at the first start.
 *   - `orders.run_id`, `fills.run_id`: the run (table `runs`) that wrote the row, so a run's summary
 *     counts that run only.
 *   - `positions` is keyed by (strategy_id, conid) instead of conid.
 *   - `strategy_state` (one row, id = 1) became `strategy_states`, one row per strategy_id.
 *   - new table `runs` (id, started_at, strategies JSON); meta `schemaVersion` = 2.
 * Readers (status / trades commands) should read these columns, not the version-1 ones.
 */
import { dirname } from 'node:path';
import type { Side } from '../brokers/types.ts';
import { ensurePrivateDir, tightenFile } from '../util/private-files.ts';
import { forwardState } from './order-states.ts';
import { Database } from './sqlite.ts';
import { storageError } from './storage-error.ts';

export const JOURNAL_SCHEMA_VERSION = 2;

/** Order states in the journal (the order manager's state machine). */
export type JournalOrderState =
  /** Written, not yet answered by the broker (a crash here means: look the cOID up). */
  | 'new'
  /** The placement's outcome is unknown (timeout, 5xx): to be resolved by cOID lookup. */
  | 'unknown'
  /** Accepted by the broker, working. */
  | 'working'
  | 'partial'
  | 'filled'
  | 'cancelled'
  | 'rejected';

const OPEN_STATES: readonly JournalOrderState[] = ['new', 'unknown', 'working', 'partial'];

// Forward-only order states (issue 12): src/store/order-states.ts, shared with the in-memory journal.
export { forwardState, NEVER_PLACED } from './order-states.ts';

export interface JournalOrder {
  cOID: string;
  /** The strategy that placed it ('' for a version-1 row not yet claimed). */
  strategyId: string;
  /** Groups the orders of one decision (both legs, a retry, a flatten). */
  intentId: string;
  /** 'y', 'x', 'combo', 'x-retry1', 'y-flatten', ... */
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

export type NewJournalOrder = Omit<JournalOrder, 'state' | 'brokerOrderId' | 'filledQty' | 'avgPrice' | 'createdAt' | 'updatedAt' | 'lastError'>;

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

export interface AttributedFill extends JournalFill {
  strategyId: string;
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

export interface JournalPosition {
  strategyId: string;
  conid: number;
  symbol: string;
  qty: number;
  avgCost: number;
}

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at INTEGER NOT NULL, strategies TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  coid TEXT PRIMARY KEY, strategy_id TEXT NOT NULL DEFAULT '', run_id INTEGER, intent_id TEXT NOT NULL, leg TEXT NOT NULL,
  conid INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, quantity REAL, cash_qty REAL, order_type TEXT NOT NULL,
  tif TEXT NOT NULL, state TEXT NOT NULL, broker_order_id TEXT, filled_qty REAL NOT NULL DEFAULT 0,
  avg_price REAL NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS order_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, coid TEXT NOT NULL, time INTEGER NOT NULL,
  state TEXT NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS fills (
  exec_id TEXT PRIMARY KEY, coid TEXT, strategy_id TEXT NOT NULL DEFAULT '', run_id INTEGER, broker_order_id TEXT NOT NULL,
  conid INTEGER NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL, time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
  strategy_id TEXT NOT NULL, conid INTEGER NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL, avg_cost REAL NOT NULL,
  updated_at INTEGER NOT NULL, PRIMARY KEY (strategy_id, conid)
);
CREATE TABLE IF NOT EXISTS equity (time INTEGER NOT NULL, strategy_id TEXT NOT NULL DEFAULT '', equity REAL NOT NULL, cash REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bars (
  time INTEGER NOT NULL, symbol TEXT NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
  close REAL NOT NULL, volume REAL NOT NULL, warmup INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (time, symbol)
);
CREATE TABLE IF NOT EXISTS decisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, strategy_id TEXT NOT NULL DEFAULT '', bar_time INTEGER NOT NULL, action TEXT NOT NULL, detail TEXT
);
CREATE TABLE IF NOT EXISTS strategy_states (strategy_id TEXT PRIMARY KEY, bar_time INTEGER, state TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, strategy_id TEXT, kind TEXT NOT NULL, detail TEXT);
`;

const INDEXES = `
CREATE INDEX IF NOT EXISTS orders_state ON orders(state);
CREATE INDEX IF NOT EXISTS orders_strategy ON orders(strategy_id);
CREATE INDEX IF NOT EXISTS fills_coid ON fills(coid);
`;

interface OrderRow {
  coid: string; strategy_id: string; intent_id: string; leg: string; conid: number; symbol: string; side: Side;
  quantity: number | null; cash_qty: number | null; order_type: string; tif: string; state: JournalOrderState;
  broker_order_id: string | null; filled_qty: number; avg_price: number; created_at: number; updated_at: number;
  last_error: string | null;
}

function toOrder(r: OrderRow): JournalOrder {
  return {
    cOID: r.coid, strategyId: r.strategy_id, intentId: r.intent_id, leg: r.leg, conid: r.conid, symbol: r.symbol, side: r.side,
    quantity: r.quantity, cashQty: r.cash_qty, orderType: r.order_type, tif: r.tif, state: r.state,
    brokerOrderId: r.broker_order_id, filledQty: r.filled_qty, avgPrice: r.avg_price,
    createdAt: r.created_at, updatedAt: r.updated_at, lastError: r.last_error,
  };
}

const FILL_COLUMNS = 'exec_id AS execId, coid AS cOID, strategy_id AS strategyId, broker_order_id AS brokerOrderId, conid, side, qty, price, commission, time';

/** A bar as the `bar` statement's parameters (exactly its names: node:sqlite refuses unknown ones). */
function barParams(b: JournalBar, warmup: boolean): Record<string, number | string> {
  return { time: b.time, symbol: b.symbol, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume, warmup: warmup ? 1 : 0 };
}

/** Version 1 → 2 (see the head of this file). Idempotent; runs inside one transaction. */
function migrate(db: Database): void {
  const columns = (table: string): string[] => (db.prepare(`PRAGMA table_info(${table})`).all() as unknown as { name: string }[]).map((c) => c.name);
  const addColumn = (table: string, column: string, decl: string): void => {
    if (!columns(table).includes(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
  };
  db.transaction(() => {
    addColumn('orders', 'strategy_id', "TEXT NOT NULL DEFAULT ''");
    addColumn('orders', 'run_id', 'INTEGER');
    addColumn('fills', 'strategy_id', "TEXT NOT NULL DEFAULT ''");
    addColumn('fills', 'run_id', 'INTEGER');
    addColumn('decisions', 'strategy_id', "TEXT NOT NULL DEFAULT ''");
    addColumn('equity', 'strategy_id', "TEXT NOT NULL DEFAULT ''");
    addColumn('incidents', 'strategy_id', 'TEXT');
    if (!columns('positions').includes('strategy_id')) {
      db.exec(`ALTER TABLE positions RENAME TO positions_v1;
        CREATE TABLE positions (strategy_id TEXT NOT NULL, conid INTEGER NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL,
          avg_cost REAL NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (strategy_id, conid));
        INSERT INTO positions SELECT '', conid, symbol, qty, avg_cost, updated_at FROM positions_v1;
        DROP TABLE positions_v1;`);
    }
    const old = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'strategy_state'").get();
    if (old) {
      db.exec(`INSERT OR IGNORE INTO strategy_states (strategy_id, bar_time, state, updated_at)
        SELECT '', bar_time, state, updated_at FROM strategy_state WHERE id = 1;
        DROP TABLE strategy_state;`);
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run('schemaVersion', String(JOURNAL_SCHEMA_VERSION));
  });
}

export class Journal {
  private readonly db: Database;
  private readonly stmts;
  /** The run this process writes (set by startRun). */
  private runId: number | null = null;

  /**
   * `synchronous`: FULL (default) makes every write durable against power loss before the next step;
   * NORMAL is durable against a crash of the process (SIGKILL) but may lose the last writes on a
   * power cut (the broker-side reconciliation at start then finds what the journal missed).
   */
  constructor(readonly file: string, opts: { synchronous?: 'FULL' | 'NORMAL' } = {}) {
    ensurePrivateDir(dirname(file), 'journal directory');
    let db: Database | undefined;
    try {
      // Another writing connection (a tool, a test) may hold the write lock for a moment: wait for it.
      db = new Database(file, { busyTimeoutMs: 5000 });
      tightenFile(file); // before WAL mode: SQLite gives -wal and -shm the database's mode
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${opts.synchronous ?? 'FULL'}`);
      // Checkpoints run from checkpoint() at quiet moments (after a bar's orders went out), not inside
      // an order's insert, where SQLite's automatic checkpoint would add milliseconds.
      db.exec('PRAGMA wal_autocheckpoint = 0');
      db.exec(TABLES);
      migrate(db);
      db.exec(INDEXES);
    } catch (err) {
      db?.close();
      throw storageError(err, file) ?? err;
    }
    this.db = db;
    this.stmts = {
      insertOrder: db.prepare(`INSERT INTO orders (coid, strategy_id, run_id, intent_id, leg, conid, symbol, side, quantity, cash_qty,
        order_type, tif, state, broker_order_id, filled_qty, avg_price, created_at, updated_at, last_error)
        VALUES (@coid, @strategy_id, @run_id, @intent_id, @leg, @conid, @symbol, @side, @quantity, @cash_qty, @order_type, @tif, @state,
        NULL, 0, 0, @now, @now, NULL)`),
      updateOrder: db.prepare(`UPDATE orders SET state = @state, broker_order_id = COALESCE(@broker_order_id, broker_order_id),
        filled_qty = MAX(filled_qty, COALESCE(@filled_qty, filled_qty)),
        avg_price = CASE WHEN COALESCE(@filled_qty, filled_qty) >= filled_qty THEN COALESCE(@avg_price, avg_price) ELSE avg_price END,
        last_error = COALESCE(@last_error, last_error), updated_at = @now WHERE coid = @coid`),
      event: db.prepare('INSERT INTO order_events (coid, time, state, detail) VALUES (?, ?, ?, ?)'),
      events: db.prepare('SELECT coid, time, state, detail FROM order_events ORDER BY id'),
      eventsOf: db.prepare('SELECT coid, time, state, detail FROM order_events WHERE coid = ? ORDER BY id'),
      getOrder: db.prepare('SELECT * FROM orders WHERE coid = ?'),
      openOrders: db.prepare(`SELECT * FROM orders WHERE state IN (${OPEN_STATES.map((s) => `'${s}'`).join(',')}) ORDER BY created_at, coid`),
      allOrders: db.prepare('SELECT * FROM orders ORDER BY created_at, coid'),
      ordersOf: db.prepare('SELECT * FROM orders WHERE strategy_id = ? ORDER BY created_at, coid'),
      ordersOfIntent: db.prepare('SELECT * FROM orders WHERE strategy_id = ? AND intent_id = ? ORDER BY created_at, coid'),
      insertFill: db.prepare(`INSERT OR IGNORE INTO fills (exec_id, coid, strategy_id, run_id, broker_order_id, conid, side, qty, price, commission, time)
        VALUES (@execId, @cOID, COALESCE((SELECT strategy_id FROM orders WHERE coid = @cOID), ''), @runId, @brokerOrderId, @conid, @side, @qty, @price, @commission, @time)`),
      fills: db.prepare(`SELECT ${FILL_COLUMNS} FROM fills ORDER BY time, exec_id`),
      fillsOf: db.prepare(`SELECT ${FILL_COLUMNS} FROM fills WHERE strategy_id = ? ORDER BY time, exec_id`),
      hasFill: db.prepare('SELECT 1 FROM fills WHERE exec_id = ?'),
      filledQty: db.prepare('SELECT COALESCE(SUM(qty), 0) AS q FROM fills WHERE coid = ?'),
      avgFill: db.prepare('SELECT COALESCE(SUM(qty), 0) AS q, COALESCE(SUM(qty * price), 0) AS v FROM fills WHERE coid = ?'),
      upsertPosition: db.prepare(`INSERT INTO positions (strategy_id, conid, symbol, qty, avg_cost, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT(strategy_id, conid) DO UPDATE SET symbol = excluded.symbol, qty = excluded.qty, avg_cost = excluded.avg_cost, updated_at = excluded.updated_at`),
      positions: db.prepare('SELECT strategy_id AS strategyId, conid, symbol, qty, avg_cost AS avgCost FROM positions WHERE qty != 0 ORDER BY strategy_id, conid'),
      equity: db.prepare('INSERT INTO equity (time, strategy_id, equity, cash) VALUES (?, ?, ?, ?)'),
      bar: db.prepare(`INSERT OR REPLACE INTO bars (time, symbol, open, high, low, close, volume, warmup)
        VALUES (@time, @symbol, @open, @high, @low, @close, @volume, @warmup)`),
      bars: db.prepare('SELECT time, symbol, open, high, low, close, volume FROM bars WHERE warmup <= ? ORDER BY time, symbol'),
      decision: db.prepare('INSERT INTO decisions (strategy_id, bar_time, action, detail) VALUES (?, ?, ?, ?)'),
      decisions: db.prepare('SELECT strategy_id AS strategyId, bar_time AS barTime, action, detail FROM decisions ORDER BY id'),
      saveState: db.prepare(`INSERT INTO strategy_states (strategy_id, bar_time, state, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(strategy_id) DO UPDATE SET bar_time = excluded.bar_time, state = excluded.state, updated_at = excluded.updated_at`),
      loadState: db.prepare('SELECT bar_time AS barTime, state FROM strategy_states WHERE strategy_id = ?'),
      incident: db.prepare('INSERT INTO incidents (time, strategy_id, kind, detail) VALUES (?, ?, ?, ?)'),
      incidents: db.prepare('SELECT time, strategy_id AS strategyId, kind, detail FROM incidents ORDER BY id'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      startRun: db.prepare('INSERT INTO runs (started_at, strategies) VALUES (?, ?)'),
      runOrders: db.prepare('SELECT COUNT(*) AS n FROM orders WHERE run_id = ? AND (? IS NULL OR strategy_id = ?)'),
      runFills: db.prepare('SELECT COUNT(*) AS n FROM fills WHERE run_id = ? AND (? IS NULL OR strategy_id = ?)'),
    };
  }

  /** `journal_mode` as SQLite reports it ('wal'). */
  journalMode(): string {
    return String(this.db.pragmaValue('journal_mode'));
  }

  // ---------------------------------------------------------------- runs and strategies

  /** Starts a run: later orders and fills carry its id, so its summary counts this run only. */
  startRun(strategyIds: string[], now = Date.now()): number {
    this.runId = Number(this.stmts.startRun.run(now, JSON.stringify(strategyIds)).lastInsertRowid);
    return this.runId;
  }

  /** Orders placed and fills recorded by a run (optionally of one strategy). */
  runCounts(runId: number, strategyId?: string): { orders: number; fills: number } {
    const s = strategyId ?? null;
    return {
      orders: (this.stmts.runOrders.get(runId, s, s) as { n: number }).n,
      fills: (this.stmts.runFills.get(runId, s, s) as { n: number }).n,
    };
  }

  /** Whether a version-1 journal left rows no strategy has claimed yet. */
  hasLegacyRows(): boolean {
    return Boolean(this.db.prepare(`SELECT 1 FROM orders WHERE strategy_id = '' UNION ALL SELECT 1 FROM positions WHERE strategy_id = ''
      UNION ALL SELECT 1 FROM strategy_states WHERE strategy_id = '' LIMIT 1`).get());
  }

  /** Symbols the unclaimed version-1 orders traded (to tell which strategy they belong to). */
  legacySymbols(): string[] {
    return (this.db.prepare(`SELECT DISTINCT symbol FROM orders WHERE strategy_id = '' UNION SELECT DISTINCT symbol FROM positions WHERE strategy_id = ''`).all() as { symbol: string }[]).map((r) => r.symbol);
  }

  /** Gives the rows of a version-1 journal (one strategy) to that strategy. */
  claimLegacyRows(strategyId: string): void {
    this.db.transaction(() => {
      for (const t of ['orders', 'fills', 'decisions', 'equity', 'positions', 'strategy_states']) {
        this.db.prepare(`UPDATE OR IGNORE ${t} SET strategy_id = ? WHERE strategy_id = ''`).run(strategyId);
      }
      this.db.prepare("UPDATE incidents SET strategy_id = ? WHERE strategy_id = ''").run(strategyId);
    });
  }

  // ---------------------------------------------------------------- orders

  /** Records a new order before it is sent. Throws if the cOID already exists (never reuse one). */
  recordNewOrder(
    o: NewJournalOrder,
    now = Date.now(),
    /** A meta value written in the same transaction (the cOID sequence). */
    meta?: { key: string; value: string },
  ): void {
    this.db.transaction(() => {
      if (meta) this.stmts.setMeta.run(meta.key, meta.value);
      this.stmts.insertOrder.run({
        coid: o.cOID, strategy_id: o.strategyId, run_id: this.runId, intent_id: o.intentId, leg: o.leg, conid: o.conid, symbol: o.symbol,
        side: o.side, quantity: o.quantity, cash_qty: o.cashQty, order_type: o.orderType, tif: o.tif, state: 'new', now,
      });
      this.stmts.event.run(o.cOID, now, 'new', JSON.stringify({ side: o.side, quantity: o.quantity, cashQty: o.cashQty }));
    });
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
    });
  }

  order(cOID: string): JournalOrder | undefined {
    const r = this.stmts.getOrder.get(cOID) as OrderRow | undefined;
    return r ? toOrder(r) : undefined;
  }

  /**
   * The order's row as it stands, to read at once (the memory journal hands out its own row, not a
   * copy: a caller reads what it needs before the next write and keeps nothing). Here, a fresh row.
   */
  orderNow(cOID: string): Readonly<JournalOrder> | undefined {
    return this.order(cOID);
  }

  /** Orders not yet in a final state (sent or possibly sent), of every strategy. */
  openOrders(): JournalOrder[] {
    return (this.stmts.openOrders.all() as unknown as OrderRow[]).map(toOrder);
  }

  /** All orders, or one strategy's. */
  orders(strategyId?: string): JournalOrder[] {
    const rows = strategyId === undefined ? this.stmts.allOrders.all() : this.stmts.ordersOf.all(strategyId);
    return (rows as unknown as OrderRow[]).map(toOrder);
  }

  /** The orders of one decision of one strategy. */
  ordersOfIntent(strategyId: string, intentId: string): JournalOrder[] {
    return (this.stmts.ordersOfIntent.all(strategyId, intentId) as unknown as OrderRow[]).map(toOrder);
  }

  orderEvents(cOID?: string): { coid: string; time: number; state: string; detail: string | null }[] {
    return (cOID ? this.stmts.eventsOf.all(cOID) : this.stmts.events.all()) as never;
  }

  // ---------------------------------------------------------------- fills and positions

  /**
   * Records a fill, attributed to the strategy of its order (by cOID); returns false if this
   * execution was already journalled.
   */
  recordFill(f: JournalFill): boolean {
    return Number(this.stmts.insertFill.run({
      execId: f.execId, cOID: f.cOID, runId: this.runId, brokerOrderId: f.brokerOrderId, conid: f.conid, side: f.side,
      qty: f.qty, price: f.price, commission: f.commission, time: f.time,
    }).changes) > 0;
  }

  hasFill(execId: string): boolean {
    return this.stmts.hasFill.get(execId) !== undefined;
  }

  /** Units journalled as filled for one order (sum of its executions). */
  filledQty(cOID: string): number {
    return (this.stmts.filledQty.get(cOID) as { q: number }).q;
  }

  /** Volume-weighted price of an order's journalled fills; undefined without fills. */
  avgFillPrice(cOID: string): number | undefined {
    const r = this.stmts.avgFill.get(cOID) as { q: number; v: number };
    return r.q > 0 ? r.v / r.q : undefined;
  }

  /** All fills, or one strategy's, in time order. */
  fills(strategyId?: string): AttributedFill[] {
    return (strategyId === undefined ? this.stmts.fills.all() : this.stmts.fillsOf.all(strategyId)) as unknown as AttributedFill[];
  }

  setPosition(strategyId: string, conid: number, symbol: string, qty: number, avgCost: number, now = Date.now()): void {
    this.stmts.upsertPosition.run(strategyId, conid, symbol, qty, avgCost, now);
  }

  /** Non-zero positions per strategy, or of one strategy. */
  positions(strategyId?: string): JournalPosition[] {
    const all = this.stmts.positions.all() as unknown as JournalPosition[];
    return strategyId === undefined ? all : all.filter((p) => p.strategyId === strategyId);
  }

  // ---------------------------------------------------------------- bars, equity, decisions, state

  /** Warm-up (history) bars, in one transaction. */
  recordBars(bars: JournalBar[], warmup = false): void {
    this.db.transaction(() => {
      for (const b of bars) this.stmts.bar.run(barParams(b, warmup));
    });
  }

  /** A live bar close of one strategy: its legs' bars and its equity point, in one transaction. */
  recordBarClose(strategyId: string, bars: JournalBar[], time: number, equity: number, cash: number): void {
    this.db.transaction(() => {
      for (const b of bars) this.stmts.bar.run(barParams(b, false));
      this.stmts.equity.run(time, strategyId, equity, cash);
    });
  }

  /** Bars the node built (live only) or all of them (history used for warm-up too). */
  bars(includeWarmup = false): JournalBar[] {
    return this.stmts.bars.all(includeWarmup ? 1 : 0) as unknown as JournalBar[];
  }

  recordDecision(strategyId: string, barTime: number, action: string, detail: unknown): void {
    this.stmts.decision.run(strategyId, barTime, action, JSON.stringify(detail));
  }

  decisions(strategyId?: string): { strategyId: string; barTime: number; action: string; detail: string | null }[] {
    const all = this.stmts.decisions.all() as { strategyId: string; barTime: number; action: string; detail: string | null }[];
    return strategyId === undefined ? all : all.filter((d) => d.strategyId === strategyId);
  }

  saveStrategyState(strategyId: string, barTime: number | null, state: unknown, now = Date.now()): void {
    this.stmts.saveState.run(strategyId, barTime, JSON.stringify(state), now);
  }

  /** The saved state of one strategy; a damaged one reads as a state no strategy restores (it warms up instead). */
  loadStrategyState(strategyId: string): { barTime: number | null; state: unknown } | undefined {
    const r = this.stmts.loadState.get(strategyId) as { barTime: number | null; state: string } | undefined;
    if (!r) return undefined;
    try {
      return { barTime: r.barTime, state: JSON.parse(r.state) as unknown };
    } catch (err) {
      return { barTime: r.barTime, state: { type: 'unreadable', version: 0, error: `the saved strategy state is not valid JSON (${(err as Error).message})` } };
    }
  }

  // ---------------------------------------------------------------- incidents and meta

  /** An incident of the whole node (strategyId null) or of one strategy. */
  recordIncident(kind: string, detail: unknown, strategyId: string | null = null, now = Date.now()): void {
    this.stmts.incident.run(now, strategyId, kind, JSON.stringify(detail));
  }

  incidents(): { time: number; strategyId: string | null; kind: string; detail: string | null }[] {
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
    this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  }

  close(): void {
    this.db.close();
  }
}
