/**
 * The node status record: what a running node knows that its journal does not hold — that it is
 * alive (heartbeat), the session and trading state right now, the pacing queue, each strategy's
 * latest z-score, thresholds and warm-up progress, and the heartbeat text a trader reads ("market
 * closed until Mon 09:30 New York").
 *
 * Why a file and not a journal table: the journal is the node's durable record of money (orders,
 * fills, positions) and is written with FULL sync on the order path; this record changes every bar
 * and may be lost without harm. It is one small JSON file next to the journal
 * (`<journal>.status.json`), replaced atomically (write a temporary file, rename), so a reader in
 * another process never sees half a record. Readers treat a record older than `staleAfterMs` as
 * "the node is not running".
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type SessionState = 'starting' | 'up' | 'down';
/** The node's trading state (the multi-strategy node's risk engine: active / reducing / halted). */
export type TradingState = 'starting' | 'active' | 'reducing' | 'halted' | 'stopped';

export interface StrategyStatus {
  id: string;
  y: string;
  x: string;
  bar: string;
  thresholds: { entry: number; exit: number; stop: number };
  warmup: { have: number; need: number };
  lastBar: { time: number; closes: [number, number]; z: number | null; position: string; equity: number } | null;
  /** Recent [bar time ms, z] points (bounded), for the dashboard's z-score chart. */
  z: [number, number | null][];
  /** The strategy's parameters (for `tandem report` to replay the recorded bars). */
  params?: Record<string, unknown>;
  /** The state this strategy trades under (the stricter of the account's and its own), as the node reported it. */
  trading?: { state: TradingState; reason: string | null };
  /** Its market at the node's last check (market time); when closed, the next open. */
  market?: { open: boolean; marketTime: number; nextOpen: number | null };
}

export interface NodeStatus {
  version: 1;
  pid: number;
  startedAt: number;
  /** Wall-clock ms of the last write: the heartbeat. */
  updatedAt: number;
  /** Set by the node's last write when it stops (a record with it is not a running node). */
  stoppedAt: number | null;
  mode: string;
  account: string | null;
  session: { state: SessionState; since: number; reason: string | null; drops: number; relogins: number };
  trading: { state: TradingState; reason: string | null };
  pacing: { queue: number };
  /** The latest heartbeat text ("market closed until Mon 09:30 New York", "waiting for warm-up: 37/120 bars"). */
  heartbeat: string | null;
  strategies: Record<string, StrategyStatus>;
}

/** A status this old means the node stopped writing (crashed, or stopped without a final write). */
export const STATUS_STALE_MS = 90_000;
/** z points kept per strategy in the record. */
export const MAX_Z_POINTS = 2000;

export function statusFileFor(journalFile: string): string {
  return `${journalFile}.status.json`;
}

export function readNodeStatus(journalFile: string): NodeStatus | null {
  try {
    const v = JSON.parse(readFileSync(statusFileFor(journalFile), 'utf8')) as NodeStatus;
    return v && v.version === 1 ? v : null;
  } catch {
    return null;
  }
}

/** The record is not from a running node: it said it stopped, or it is older than `staleAfterMs`. */
export function isStale(s: NodeStatus, now = Date.now(), staleAfterMs = STATUS_STALE_MS): boolean {
  return s.stoppedAt !== null || now - s.updatedAt > staleAfterMs;
}

/** Replaces the record atomically (readers see the old or the new one, never a mix). */
export function writeNodeStatus(journalFile: string, s: NodeStatus): void {
  const file = statusFileFor(journalFile);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, file);
}

export function emptyStatus(mode: string, account: string | null, now = Date.now()): NodeStatus {
  return {
    version: 1, pid: process.pid, startedAt: now, updatedAt: now, stoppedAt: null, mode, account,
    session: { state: 'starting', since: now, reason: null, drops: 0, relogins: 0 },
    trading: { state: 'starting', reason: null },
    pacing: { queue: 0 },
    heartbeat: null,
    strategies: {},
  };
}
