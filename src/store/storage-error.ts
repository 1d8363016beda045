/**
 * The journal's storage failures as one clear line each (what, where, fix) instead of a stack
 * trace: a journal that is not a database or is corrupt, a read-only file or directory, a full
 * disk, an I/O error. SQLite writes every transaction whole or not at all, so whatever was
 * journalled before the failure is still there; the message says so.
 */
import { UserError } from '../util/errors.ts';

/** Exit code of a storage failure: the user must fix the disk or the file before a restart. */
export const STORAGE_EXIT_CODE = 2;

/** A UserError for a SQLite/filesystem error on `file`, or undefined when `err` is not one. */
export function storageError(err: unknown, file?: string): UserError | undefined {
  const name = file ? `the journal ${file}` : 'the journal (in dataDir)';
  const code = String((err as { code?: unknown })?.code ?? '');
  const kept = 'Everything journalled before it is kept.';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new UserError(`${name} is damaged (${code}: ${(err as Error).message}). ` +
      `Fix: move it aside (${file ? `mv "${file}" "${file}.damaged"` : 'rename it'}) and start again: the broker's orders and positions are reconciled at start; keep the damaged file for a recovery.`, STORAGE_EXIT_CODE);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new UserError(`${name} cannot be written (${code}: read-only file, directory or file system). ${kept} ` +
      'Fix: make the file and its directory writable by this user, or set dataDir to a writable place.', STORAGE_EXIT_CODE);
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new UserError(`the disk holding ${name} is full (${code}). ${kept} Fix: free some space, then start again.`, STORAGE_EXIT_CODE);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new UserError(`${name} cannot be opened (${code}). Fix: check that its directory exists and is writable.`, STORAGE_EXIT_CODE);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new UserError(`reading or writing ${name} failed (${code}: ${(err as Error).message}). ${kept} Fix: check the disk (dmesg), then start again.`, STORAGE_EXIT_CODE);
  }
  return undefined;
}
