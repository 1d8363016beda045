/**
 * Files Tandem writes about an account (journal, contract cache, logs, login screenshots, lock) are
 * readable by their owner only: files 0600, the directories Tandem creates 0700. A journal names
 * the account, its orders and positions; a log may hold a session's details.
 *
 * Directories that already exist are left as they are (a dataDir of `/tmp/x` must not tighten
 * `/tmp`); the ones created here are private whatever the umask. SQLite creates its -wal and -shm
 * files with the database file's mode, so tightening the database right after it is opened covers
 * them.
 */
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from './errors.ts';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` (and missing parents) 0700; a path that exists but is not a directory is a UserError. */
export function ensurePrivateDir(dir: string, what = 'dataDir'): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) {
      throw new UserError(`${what} ${dir} is a file, not a directory. Fix: point ${what} at a directory (it is created when missing), or move that file away.`);
    }
    return;
  }
  const parent = dirname(dir);
  if (parent !== dir) ensurePrivateDir(parent, what);
  try {
    mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new UserError(`cannot create the ${what} ${dir} (${code}). Fix: create it yourself with write access for this user, or point ${what} somewhere writable.`);
    }
    if (code !== 'EEXIST') throw err;
  }
  chmodSync(dir, PRIVATE_DIR_MODE); // mkdir's mode is masked by the umask
}

/** Makes a file Tandem just created readable by its owner only. */
export function tightenFile(file: string): void {
  try {
    chmodSync(file, PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
