/**
 * Execution rows, as `/iserver/account/trades` and the websocket `str` topic really send them.
 *
 * Why a module of its own: the real rows identify their order by `order_ref` (the cOID we sent) and
 * `execution_id`; `order_id` is missing from many of them (IBKR's own trades example in the cpapi-v1
 * docs and the generated `Trade` model of jaikumarm/ibcpgw-python-client have no `order_id`); some
 * carry `conidex`/`conidEx` ("265598" or "265598@SMART") instead of `conid`; `size`, `price` and
 * `conid` come as numbers in one payload and strings in the next. Both readers (REST and `str`) go
 * through `toExecution`, so there is one place that knows this.
 */
import { z } from 'zod';
import { decode, lenientNumber, lenientString, normalizeSide } from './decode.ts';

export interface Execution {
  /** `execution_id`: the de-duplication key (a corrected execution gets a new one). */
  executionId: string;
  /** `order_ref`: the cOID of the order; absent for orders placed elsewhere (TWS, mobile). */
  orderRef?: string;
  /** Same as `orderRef` (kept for callers that speak of cOIDs). */
  cOID?: string;
  /** `order_id` when the gateway sends it (often it does not). */
  orderId?: number;
  /** From `conid`, else the number in front of `conidex`/`conidEx`; undefined, never 0, when unknown. */
  conid?: number;
  symbol?: string;
  side?: 'BUY' | 'SELL';
  size: number;
  price: number;
  commission?: number;
  netAmount?: number;
  account?: string;
  /** Epoch ms (`trade_time_r`). */
  time?: number;
}

const executionRowSchema = z.looseObject({
  execution_id: lenientString,
  order_id: z.unknown().optional(),
  order_ref: lenientString.optional(),
  conid: z.unknown().optional(),
  conidex: z.unknown().optional(),
  conidEx: z.unknown().optional(),
  symbol: lenientString.optional(),
  side: lenientString.optional(),
  size: lenientNumber,
  price: lenientNumber,
  commission: lenientNumber.optional(),
  net_amount: lenientNumber.optional(),
  account: lenientString.optional(),
  acctId: lenientString.optional(),
  trade_time_r: lenientNumber.optional(),
});

/** The integer in front of a conid / conidex value ("265598", 265598, "265598@SMART"); undefined for 0 or junk. */
export function conidOf(v: unknown): number | undefined {
  const m = typeof v === 'number' ? v : typeof v === 'string' ? Number(/^\s*(\d+)/.exec(v)?.[1] ?? NaN) : NaN;
  return Number.isInteger(m) && m > 0 ? m : undefined;
}

/** Decodes one execution row; a row without an `execution_id` is not an execution (ResponseShapeError). */
export function toExecution(row: unknown, endpoint: string): Execution {
  const e = decode(executionRowSchema, row, endpoint);
  if (!e.execution_id) throw new Error(`${endpoint}: an execution row without execution_id`);
  const orderId = conidOf(e.order_id);
  const conid = conidOf(e.conid) ?? conidOf(e.conidex) ?? conidOf(e.conidEx);
  const ref = e.order_ref && e.order_ref.trim() !== '' ? e.order_ref : undefined;
  return {
    executionId: e.execution_id,
    ...(ref ? { orderRef: ref, cOID: ref } : {}),
    ...(orderId !== undefined ? { orderId } : {}),
    ...(conid !== undefined ? { conid } : {}),
    symbol: e.symbol,
    side: normalizeSide(e.side),
    size: Math.abs(e.size ?? 0),
    price: e.price ?? 0,
    commission: e.commission,
    netAmount: e.net_amount,
    account: e.account ?? e.acctId,
    time: e.trade_time_r,
  };
}

/** Decodes the rows of a trades answer or a `str` frame; rows that do not decode are skipped. */
export function toExecutions(rows: unknown, endpoint: string, onSkip?: (row: unknown, err: Error) => void): Execution[] {
  if (!Array.isArray(rows)) return [];
  const out: Execution[] = [];
  for (const row of rows) {
    try {
      out.push(toExecution(row, endpoint));
    } catch (err) {
      onSkip?.(row, err as Error);
    }
  }
  return out;
}
