/**
 * Counts refused logins across runs, so auto-login stops before IBKR locks the account (ibeam's
 * default limit is 5). Kept in `<dataDir>/auth/failed-logins.json`; a successful login resets it.
 * The file holds a count, a time and the page's message (secrets removed), never a credential.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir } from '../util/private-files.ts';

export interface FailedLogins {
  count: number;
  lastAt?: string;
  lastMessage?: string;
}

export function failedLoginsFile(dataDir: string): string {
  return join(dataDir, 'auth', 'failed-logins.json');
}

export function readFailedLogins(dataDir: string): FailedLogins {
  try {
    const j = JSON.parse(readFileSync(failedLoginsFile(dataDir), 'utf8')) as Partial<FailedLogins>;
    const count = Number.isInteger(j.count) && (j.count as number) > 0 ? (j.count as number) : 0;
    return { count, ...(j.lastAt ? { lastAt: j.lastAt } : {}), ...(j.lastMessage ? { lastMessage: j.lastMessage } : {}) };
  } catch {
    return { count: 0 };
  }
}

export function recordFailedLogin(dataDir: string, message: string): FailedLogins {
  const next: FailedLogins = { count: readFailedLogins(dataDir).count + 1, lastAt: new Date().toISOString(), lastMessage: message };
  const file = failedLoginsFile(dataDir);
  ensurePrivateDir(dirname(file));
  // Written atomically: a crash mid-write must not reset the count.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return next;
}

export function resetFailedLogins(dataDir: string): void {
  rmSync(failedLoginsFile(dataDir), { force: true });
}
