/**
 * The journal's storage failures as one clear line each (what, where, fix) instead of a stack
 * trace: a journal that is not a database or is corrupt, a read-only file or directory, a full
 * disk, an I/O error. SQLite writes every transaction whole or not at all, so whatever was
 * journalled before the failure is still there; the message says so.
 *
 * node:sqlite reports every SQLite failure as `code: 'ERR_SQLITE_ERROR'` with SQLite's extended
 * result code in `errcode`; the failure is told from that number (its low byte is the primary
 * code), never from the message text, and named as SQLite names it (SQLITE_FULL...). That name (or
 * a filesystem code) is classified here, once, into a `StorageError` code; nobody reads the message
 * to decide anything.
 */
import { UserError } from '../util/errors.ts';

/** SQLite's primary result codes (sqlite.org/rescode.html) by number. */
const PRIMARY_CODES: Record<number, string> = {
  1: 'ERROR', 2: 'INTERNAL', 3: 'PERM', 4: 'ABORT', 5: 'BUSY', 6: 'LOCKED', 7: 'NOMEM', 8: 'READONLY', 9: 'INTERRUPT',
  10: 'IOERR', 11: 'CORRUPT', 12: 'NOTFOUND', 13: 'FULL', 14: 'CANTOPEN', 15: 'PROTOCOL', 16: 'EMPTY', 17: 'SCHEMA',
  18: 'TOOBIG', 19: 'CONSTRAINT', 20: 'MISMATCH', 21: 'MISUSE', 22: 'NOLFS', 23: 'AUTH', 24: 'FORMAT', 25: 'RANGE', 26: 'NOTADB',
};

/** 'SQLITE_FULL', 'SQLITE_READONLY'... for an error node:sqlite threw; undefined for any other error. */
export function sqliteErrorName(err: unknown): string | undefined {
  const e = err as { code?: unknown; errcode?: unknown } | null | undefined;
  if (e?.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') return undefined;
  const primary = e.errcode & 0xff;
  return `SQLITE_${PRIMARY_CODES[primary] ?? String(e.errcode)}`;
}

export type StorageErrorCode =
  /** Not a database, or a damaged one: move it aside. */
  | 'TANDEM_STORAGE_CORRUPT'
  /** Read-only file, directory or file system. */
  | 'TANDEM_STORAGE_READONLY'
  /** The disk (or the quota) is full. */
  | 'TANDEM_STORAGE_FULL'
  /** The file cannot be opened (missing directory, permissions). */
  | 'TANDEM_STORAGE_CANTOPEN'
  /** An I/O error of the disk. */
  | 'TANDEM_STORAGE_IO';

/** A journal that cannot be read or written. Not retryable: the user fixes the disk or the file first. */
export class StorageError extends UserError {
  override name = 'StorageError';
  constructor(
    code: StorageErrorCode,
    message: string,
    /** The SQLite or system code it came from (SQLITE_FULL, EACCES...). */
    readonly sqliteCode: string,
    cause?: unknown,
  ) {
    super(message, { code, retryable: false, cause });
  }
}

/** A StorageError for a SQLite/filesystem error on `file`, or undefined when `err` is not one. */
export function storageError(err: unknown, file?: string): StorageError | undefined {
  const name = file ? `the journal ${file}` : 'the journal (in dataDir)';
  const code = sqliteErrorName(err) ?? String((err as { code?: unknown })?.code ?? '');
  const kept = 'Everything journalled before it is kept.';
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StorageError('TANDEM_STORAGE_CORRUPT', `${name} is damaged (${code}: ${detail}). ` +
      `Fix: move it aside (${file ? `mv "${file}" "${file}.damaged"` : 'rename it'}) and start again: the broker's orders and positions are reconciled at start; keep the damaged file for a recovery.`, code, err);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new StorageError('TANDEM_STORAGE_READONLY', `${name} cannot be written (${code}: read-only file, directory or file system). ${kept} ` +
      'Fix: make the file and its directory writable by this user, or set dataDir to a writable place.', code, err);
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError('TANDEM_STORAGE_FULL', `the disk holding ${name} is full (${code}). ${kept} Fix: free some space, then start again.`, code, err);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StorageError('TANDEM_STORAGE_CANTOPEN', `${name} cannot be opened (${code}). Fix: check that its directory exists and is writable.`, code, err);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new StorageError('TANDEM_STORAGE_IO', `reading or writing ${name} failed (${code}: ${detail}). ${kept} Fix: check the disk (dmesg), then start again.`, code, err);
  }
  return undefined;
}
