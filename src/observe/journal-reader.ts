/**
 * A read-only view of a node's journal, for the commands and pages that watch a run (`tandem status`,
 * `tandem trades`, the dashboard, `tandem report`) while the node that owns the journal keeps writing.
 *
 * Why a second class next to src/store/journal.ts: the journal's owner opens the file read-write,
 * creates the schema and sets WAL, FULL sync and manual checkpoints. An observer must do none of
 * that: it opens the file `readonly` (SQLite then cannot write, so it can never take the write lock
 * or run a checkpoint that would stall the node), waits up to `busy_timeout` if a checkpoint is
 * running, and sees each committed transaction whole (WAL readers get a snapshot per statement).
 *
 * The schema it reads is the journal's; columns that a newer node writes (`strategy_id`, from the
 * multi-strategy node) are used when present and default to one strategy when absent, so the
 * reader works against journals written by either engine.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../util/errors.ts';
import { Database } from '../store/sqlite.ts';
import { readNodeStatus } from './node-status.ts';
import type { JournalBar, JournalFill, JournalOrder } from '../store/journal.ts';

/** The strategy id used for journals written before orders carried one. */
export const SINGLE_STRATEGY = 'default';

/** A journalled order with its row id and strategy (state as text: a newer node may add states). */
export interface ReaderOrder extends Omit<JournalOrder, 'state'> {
  rowid: number;
  strategyId: string;
  state: string;
}

/** A journalled fill with its row id, strategy and symbol (from its order). */
export interface ReaderFill extends Omit<JournalFill, 'brokerOrderId'> {
  rowid: number;
  strategyId: string;
  symbol: string;
}

export interface ReaderBar extends JournalBar {
  rowid: number;
  warmup: boolean;
}

export interface ReaderDecision {
  id: number;
  strategyId: string;
  barTime: number;
  action: string;
  detail: Record<string, unknown> | null;
}

export interface ReaderIncident {
  id: number;
  time: number;
  kind: string;
  strategyId: string | null;
  detail: Record<string, unknown> | null;
}

export interface ReaderEquity {
  rowid: number;
  strategyId: string;
  time: number;
  equity: number;
  cash: number;
}

export interface ReaderPosition {
  strategyId: string;
  conid: number;
  symbol: string;
  qty: number;
  avgCost: number;
  updatedAt: number;
}

function parseJson(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { text };
  }
}

export class JournalReader {
  private readonly db: Database;
  private readonly columns = new Map<string, Set<string>>();

  /** The id given to rows without a `strategy_id`: the given one, else the node status record's only strategy, else 'default'. */
  readonly defaultStrategyId: string;

  constructor(readonly file: string, defaultStrategyId?: string) {
    const named = Object.keys(readNodeStatus(file)?.strategies ?? {});
    this.defaultStrategyId = defaultStrategyId ?? (named.length === 1 ? named[0]! : SINGLE_STRATEGY);
    if (!existsSync(file)) {
      throw new UserError(`no journal at ${file}. Fix: pass --journal with the journal of a node (default <dataDir>/journal.sqlite), or start one with \`tandem run\`.`, 'TANDEM_FILE_NOT_FOUND');
    }
    try {
      this.db = new Database(file, { readOnly: true, busyTimeoutMs: 5000 });
    } catch (err) {
      throw new UserError(`cannot read the journal ${file}: ${(err as Error).message}. Fix: check the path and that the file is a Tandem journal.`);
    }
    try {
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders'").get();
    } catch (err) {
      this.db.close();
      throw new UserError(`cannot read the journal ${file}: ${(err as Error).message}. Fix: check the path and that the file is a Tandem journal.`, 'TANDEM_FILE_INVALID');
    }
    if (!this.hasTable('orders') || !this.hasTable('fills')) {
      this.db.close();
      throw new UserError(`${file} is not a Tandem journal (no orders/fills tables). Fix: pass the journal of a node, e.g. data/journal.sqlite.`, 'TANDEM_FILE_INVALID');
    }
  }

  hasTable(name: string): boolean {
    return this.cols(name).size > 0;
  }

  /** The columns of a table (empty when it does not exist); cached, the schema does not change under a reader. */
  private cols(table: string): Set<string> {
    let c = this.columns.get(table);
    if (!c) {
      const rows = this.db.prepare(`PRAGMA table_info(${table})`).all() as unknown as { name: string }[];
      c = new Set(rows.map((r) => r.name));
      if (c.size > 0) this.columns.set(table, c);
    }
    return c;
  }

  /** `strategy_id` when the table has it, else the default id as a literal. */
  private strategyCol(table: string, alias = ''): string {
    const p = alias ? `${alias}.` : '';
    return this.cols(table).has('strategy_id') ? `COALESCE(${p}strategy_id, '${this.defaultStrategyId.replace(/'/g, "''")}')` : `'${this.defaultStrategyId.replace(/'/g, "''")}'`;
  }

  orders(afterRowid = 0): ReaderOrder[] {
    return this.db.prepare(`SELECT rowid, coid AS cOID, ${this.strategyCol('orders')} AS strategyId, intent_id AS intentId, leg, conid, symbol, side,
      quantity, cash_qty AS cashQty, order_type AS orderType, tif, state, broker_order_id AS brokerOrderId, filled_qty AS filledQty,
      avg_price AS avgPrice, created_at AS createdAt, updated_at AS updatedAt, last_error AS lastError
      FROM orders WHERE rowid > ? ORDER BY created_at, coid`).all(afterRowid) as unknown as ReaderOrder[];
  }

  /** Fills in time order; the strategy comes from the fill row, else from its order, else the default. */
  fills(opts: { afterRowid?: number; since?: number } = {}): ReaderFill[] {
    const fillStrategy = this.cols('fills').has('strategy_id') ? 'f.strategy_id' : 'NULL';
    const orderStrategy = this.cols('orders').has('strategy_id') ? 'o.strategy_id' : 'NULL';
    return this.db.prepare(`SELECT f.rowid AS rowid, f.exec_id AS execId, f.coid AS cOID,
      COALESCE(${fillStrategy}, ${orderStrategy}, ?) AS strategyId, f.conid AS conid, COALESCE(o.symbol, p.symbol, CAST(f.conid AS TEXT)) AS symbol,
      f.side AS side, f.qty AS qty, f.price AS price, f.commission AS commission, f.time AS time
      FROM fills f LEFT JOIN orders o ON o.coid = f.coid LEFT JOIN (SELECT conid, MAX(symbol) AS symbol FROM positions GROUP BY conid) p ON p.conid = f.conid
      WHERE f.rowid > ? AND f.time >= ? ORDER BY f.time, f.exec_id`).all(this.defaultStrategyId, opts.afterRowid ?? 0, opts.since ?? 0) as unknown as ReaderFill[];
  }

  positions(): ReaderPosition[] {
    if (!this.hasTable('positions')) return [];
    return this.db.prepare(`SELECT ${this.strategyCol('positions')} AS strategyId, conid, symbol, qty, avg_cost AS avgCost, updated_at AS updatedAt
      FROM positions ORDER BY symbol`).all() as unknown as ReaderPosition[];
  }

  equity(opts: { afterRowid?: number; since?: number } = {}): ReaderEquity[] {
    if (!this.hasTable('equity')) return [];
    return this.db.prepare(`SELECT rowid, ${this.strategyCol('equity')} AS strategyId, time, equity, cash FROM equity
      WHERE rowid > ? AND time >= ? ORDER BY time, rowid`).all(opts.afterRowid ?? 0, opts.since ?? 0) as unknown as ReaderEquity[];
  }

  /** The newest equity point of each strategy. */
  latestEquity(): ReaderEquity[] {
    if (!this.hasTable('equity')) return [];
    const sid = this.strategyCol('equity');
    return this.db.prepare(`SELECT e.rowid AS rowid, ${sid} AS strategyId, e.time AS time, e.equity AS equity, e.cash AS cash FROM equity e
      WHERE e.rowid IN (SELECT MAX(rowid) FROM equity GROUP BY ${sid})`).all() as unknown as ReaderEquity[];
  }

  bars(opts: { afterRowid?: number; includeWarmup?: boolean; since?: number } = {}): ReaderBar[] {
    if (!this.hasTable('bars')) return [];
    const rows = this.db.prepare(`SELECT rowid, time, symbol, open, high, low, close, volume, warmup FROM bars
      WHERE rowid > ? AND warmup <= ? AND time >= ? ORDER BY time, symbol`).all(opts.afterRowid ?? 0, opts.includeWarmup ? 1 : 0, opts.since ?? 0) as unknown as (Omit<ReaderBar, 'warmup'> & { warmup: number })[];
    return rows.map((r) => ({ ...r, warmup: r.warmup === 1 }));
  }

  /** The newest bar time of each symbol. */
  lastBars(): { symbol: string; time: number; close: number }[] {
    if (!this.hasTable('bars')) return [];
    return this.db.prepare(`SELECT b.symbol AS symbol, b.time AS time, b.close AS close FROM bars b
      JOIN (SELECT symbol, MAX(time) AS t FROM bars GROUP BY symbol) m ON m.symbol = b.symbol AND m.t = b.time ORDER BY b.symbol`).all() as never;
  }

  /** How many bar times the journal holds for a symbol (warm-up included). */
  barTimes(symbol: string): number {
    if (!this.hasTable('bars')) return 0;
    return (this.db.prepare('SELECT COUNT(*) AS n FROM bars WHERE symbol = ?').get(symbol) as { n: number }).n;
  }

  decisions(afterId = 0): ReaderDecision[] {
    if (!this.hasTable('decisions')) return [];
    const rows = this.db.prepare(`SELECT id, ${this.strategyCol('decisions')} AS strategyId, bar_time AS barTime, action, detail FROM decisions
      WHERE id > ? ORDER BY id`).all(afterId) as unknown as (Omit<ReaderDecision, 'detail'> & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: parseJson(r.detail) }));
  }

  incidents(afterId = 0): ReaderIncident[] {
    if (!this.hasTable('incidents')) return [];
    const sid = this.cols('incidents').has('strategy_id') ? 'strategy_id' : 'NULL';
    const rows = this.db.prepare(`SELECT id, time, kind, ${sid} AS strategyId, detail FROM incidents WHERE id > ? ORDER BY id`).all(afterId) as unknown as (Omit<ReaderIncident, 'detail'> & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: parseJson(r.detail) }));
  }

  meta(key: string): string | undefined {
    if (!this.hasTable('meta')) return undefined;
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  /** Row counts of the tables the observers tail, for cheap change detection. */
  counts(): { orders: number; fills: number; bars: number; decisions: number; incidents: number; equity: number; orderEvents: number } {
    const n = (t: string, col = 'rowid'): number => (this.hasTable(t) ? ((this.db.prepare(`SELECT COALESCE(MAX(${col}), 0) AS n FROM ${t}`).get() as { n: number }).n) : 0);
    return { orders: n('orders'), fills: n('fills'), bars: n('bars'), decisions: n('decisions', 'id'), incidents: n('incidents', 'id'), equity: n('equity'), orderEvents: n('order_events', 'id') };
  }

  /** Order state changes after `afterId` (the order_events log). */
  orderEvents(afterId = 0): { id: number; cOID: string; time: number; state: string }[] {
    if (!this.hasTable('order_events')) return [];
    return this.db.prepare('SELECT id, coid AS cOID, time, state FROM order_events WHERE id > ? ORDER BY id').all(afterId) as never;
  }

  get isOpen(): boolean {
    return this.db.isOpen;
  }

  close(): void {
    this.db.close();
  }
}
