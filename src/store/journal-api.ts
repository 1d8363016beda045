/**
 * What the engine needs of a journal: the public methods of the SQLite `Journal`, as a type. The
 * trading node, its runners, the order manager and the executor take this type, so a backtest can
 * give them the in-memory journal (memory-journal.ts) and keep no file, while `tandem run` gives
 * them the durable SQLite one. A change to the journal's public methods shows up in both.
 */
import type { Journal } from './journal.ts';

export type JournalApi = { [K in keyof Journal]: Journal[K] };
