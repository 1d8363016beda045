/**
 * The one place that opens SQLite: Node's built-in `node:sqlite` (DatabaseSync), so Tandem has no
 * native module to compile for each Node version (better-sqlite3 needed Node's C++ headers and a
 * toolchain, which the npm package `node@24` does not ship).
 *
 * node:sqlite is smaller than better-sqlite3; what the journal, its lock and its readers need on
 * top of it is the class `Database` here:
 *   - `new Database(file, opts)`: read-write (created when missing) or read-only, with a busy timeout
 *     set by PRAGMA (the `timeout` option only exists from Node 22.16) and an `isOpen` that works on
 *     every supported Node (`DatabaseSync.isOpen` appeared in 22.15); `close()` is idempotent.
 *   - `transaction`: runs a function in BEGIN IMMEDIATE … COMMIT, rolled back if it throws; a
 *     nested call becomes a SAVEPOINT, so an intent-level method may call another.
 *   - `pragmaValue`: the first column of `PRAGMA x` (better-sqlite3's `pragma(x, { simple: true })`).
 * Errors: node:sqlite throws `code: 'ERR_SQLITE_ERROR'` with SQLite's extended result code in
 * `errcode`; storage-error.ts names them (SQLITE_FULL, SQLITE_READONLY...) from that number.
 *
 * Rows come back as objects without a prototype; integers as numbers (they all fit: times in ms,
 * row ids, conids). Named parameters are bound by bare name (`{ coid }` for `@coid`), and an object
 * key the statement does not name is an error, so callers pass exactly the statement's names.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export interface OpenOptions {
  /** Open an existing file read-only (it is never created). */
  readOnly?: boolean;
  /** How long a statement waits for another connection's lock before failing with SQLITE_BUSY (ms). */
  busyTimeoutMs?: number;
}

/** A node:sqlite connection plus its open state and transaction depth. */
export class Database {
  private readonly db: DatabaseSync;
  private opened = true;
  private depth = 0;

  constructor(readonly file: string, opts: OpenOptions = {}) {
    this.db = new DatabaseSync(file, { readOnly: opts.readOnly ?? false });
    try {
      this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 0))}`);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get isOpen(): boolean {
    return this.opened;
  }

  prepare(sql: string): StatementSync {
    return this.db.prepare(sql);
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** The first column of the first row of `PRAGMA <statement>` (undefined when it returns no row). */
  pragmaValue(statement: string): unknown {
    const row = this.db.prepare(`PRAGMA ${statement}`).get();
    return row ? Object.values(row)[0] : undefined;
  }

  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE: the write lock is taken at the start, so the
   * transaction never fails half-way for want of it); rolled back when `fn` throws. Nested calls
   * use a savepoint inside the outer transaction.
   */
  transaction<T>(fn: () => T): T {
    const savepoint = this.depth > 0 ? `tandem_sp${this.depth}` : undefined;
    this.db.exec(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN IMMEDIATE');
    this.depth++;
    try {
      const result = fn();
      this.db.exec(savepoint ? `RELEASE ${savepoint}` : 'COMMIT');
      return result;
    } catch (err) {
      // SQLite may already have rolled the whole transaction back by itself (SQLITE_FULL,
      // SQLITE_IOERR); then ROLLBACK fails with "no transaction is active", and the original error
      // is the one to report.
      try {
        this.db.exec(savepoint ? `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}` : 'ROLLBACK');
      } catch { /* nothing left to roll back */ }
      throw err;
    } finally {
      this.depth--;
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    this.db.close();
  }
}
