/**
 * `tandem doctor`'s "foreign positions" line: the positions the broker holds in the configured
 * account that no strategy of the config's journal accounts for. The classification and its wording
 * are the node's own (src/engine/foreign-positions.ts): the doctor only supplies the two pictures,
 * the broker's positions (through the same `Broker` the node uses) and the journal's positions per
 * strategy (read-only, so a running node is not disturbed).
 */
import { existsSync } from 'node:fs';
import { IbkrBroker } from '../brokers/ibkr-broker.ts';
import { describeForeign, foreignPositions, type BookHolding } from '../engine/foreign-positions.ts';
import type { IbkrClient } from '../ibkr/client.ts';
import type { DoctorLine } from '../ibkr/doctor.ts';
import { JournalReader } from '../observe/journal-reader.ts';
import { isUserError } from '../util/errors.ts';

const CHECK = 'foreign positions';

export interface ForeignCheckInput {
  client: IbkrClient;
  accountId: string;
  journalFile: string;
}

/** The journal's holdings and, per contract, the strategies that traded it (orders or positions). */
function journalBooks(file: string): { books: BookHolding[]; tradedBy: Map<number, Set<string>> } {
  const tradedBy = new Map<number, Set<string>>();
  if (!existsSync(file)) return { books: [], tradedBy };
  const reader = new JournalReader(file);
  try {
    const add = (conid: number, strategy: string) => tradedBy.set(conid, (tradedBy.get(conid) ?? new Set()).add(strategy));
    for (const o of reader.orders()) add(o.conid, o.strategyId);
    const books = reader.positions().filter((p) => p.qty !== 0);
    for (const p of books) add(p.conid, p.strategyId);
    return { books, tradedBy };
  } finally {
    reader.close();
  }
}

export async function foreignPositionsLine(o: ForeignCheckInput): Promise<DoctorLine> {
  let journal: ReturnType<typeof journalBooks>;
  try {
    journal = journalBooks(o.journalFile);
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { check: CHECK, status: 'fail', detail: err.message, fix: 'Point journal.path (or dataDir) in the config at the node\'s journal.' };
  }
  const broker = new IbkrBroker({ client: o.client });
  broker.useAccount(o.accountId);
  let positions;
  try {
    positions = await broker.positions();
  } catch (err) {
    if (!isUserError(err)) throw err;
    return { check: CHECK, status: 'fail', detail: `reading the positions of ${o.accountId} failed: ${err.message}`, fix: 'Check the brokerage session and the account id, then run doctor again.' };
  }
  const foreign = foreignPositions(positions, journal.books);
  const where = existsSync(o.journalFile) ? `the journal ${o.journalFile}` : `no journal yet (${o.journalFile})`;
  if (foreign.length === 0) {
    return { check: CHECK, status: 'ok', detail: `none: ${o.accountId}'s ${positions.length} position(s) match ${where}` };
  }
  return {
    check: CHECK,
    status: 'warn',
    detail: `${o.accountId} (against ${where}): ` + foreign.map((f) => `${f.symbol} (conid ${f.conid}): ${describeForeign(f, [...(journal.tradedBy.get(f.conid) ?? [])])}`).join(' | '),
    fix: 'The node reports these at start and never trades, adopts or counts them. Close them yourself (Client Portal / TWS) if they are not meant to be there, or run the strategies in an account of their own.',
  };
}
