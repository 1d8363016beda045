/**
 * One node per journal: an OS-level lock held for the life of the process.
 *
 * Two engines on one journal both traded (each believed it alone held the positions), so a second
 * start must refuse, naming the process that holds the journal. The lock must also never outlive
 * its holder: a SIGKILLed node leaves no lock a human has to delete.
 *
 * A pid file alone cannot do both safely (a dead holder's PID can be reused by an unrelated
 * process, and two starters that both judge a lock stale race to take it over). So the lock is a
 * kernel record lock (POSIX fcntl) taken through SQLite on `<journal>.lock`: `locking_mode =
 * EXCLUSIVE` plus one write transaction keeps the file's exclusive lock until the connection
 * closes, and the kernel drops it when the process dies, however it dies. Taking it is atomic, so
 * of two starters exactly one wins; a stale lock does not exist. The holder's PID, start time and
 * command go to `<journal>.lock.owner` (written only while holding the lock) for the message.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenFile } from '../util/private-files.ts';
import { UserError } from '../util/errors.ts';
import { Database } from './sqlite.ts';
import { sqliteErrorName } from './storage-error.ts';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export class JournalLock {
  private constructor(
    readonly file: string,
    private db: Database | undefined,
    private readonly ownerFile: string,
  ) {}

  /** Takes the lock on `journalFile` or throws a UserError (exit 2) naming the holder. */
  static acquire(journalFile: string, command = process.argv.slice(2).join(' ')): JournalLock {
    const file = `${journalFile}.lock`;
    const ownerFile = `${file}.owner`;
    ensurePrivateDir(dirname(file));
    let db: Database | undefined;
    try {
      // busy timeout 0: a held lock answers SQLITE_BUSY at once instead of waiting for it.
      db = new Database(file, { busyTimeoutMs: 0 });
      tightenFile(file);
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('PRAGMA journal_mode = MEMORY'); // no rollback file beside the lock: its content does not matter
      db.exec('BEGIN EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, at TEXT NOT NULL)');
      db.prepare('INSERT OR REPLACE INTO holder (id, pid, at) VALUES (1, ?, ?)').run(process.pid, new Date().toISOString());
      db.exec('COMMIT');
    } catch (err) {
      db?.close();
      const code = sqliteErrorName(err);
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new UserError(heldMessage(journalFile, readOwner(ownerFile)), 'TANDEM_JOURNAL_LOCKED');
      throw err;
    }
    const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
    const tmp = `${ownerFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(owner)}\n`, { mode: PRIVATE_FILE_MODE });
    renameSync(tmp, ownerFile);
    return new JournalLock(file, db, ownerFile);
  }

  get held(): boolean {
    return this.db !== undefined;
  }

  /** Releases the lock (idempotent). The process ending releases it too. */
  release(): void {
    if (!this.db) return;
    // The owner file goes first, while the lock still guards it.
    rmSync(this.ownerFile, { force: true });
    this.db.close();
    this.db = undefined;
  }
}

function readOwner(ownerFile: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerFile, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined; // the holder is between taking the lock and writing its name
  }
}

function heldMessage(journalFile: string, owner: LockOwner | undefined): string {
  const who = owner
    ? `Tandem process ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ''} (started ${owner.startedAt}${owner.command ? `: tandem ${owner.command}` : ''})`
    : 'another Tandem process';
  return `the journal ${journalFile} is in use by ${who}: one node per journal, or both would trade the same positions. ` +
    `Fix: stop that process first${owner ? ` (kill -TERM ${owner.pid})` : ''}, or give this one its own dataDir.`;
}
