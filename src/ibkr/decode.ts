/**
 * Lenient decoding of gateway answers (zod v4).
 *
 * The gateway is inconsistent about types (§11.18-19 of the reference): a conid is a string in one
 * endpoint and a number in the next, prices come as "" or "C189.30", sizes as "1,300", volumes as
 * "12.3M", absent values as null, "" or "N/A". The helpers here accept all of these and produce plain
 * numbers/strings or `undefined`; a value that is present but makes no sense (e.g. "abc" for a price)
 * is still an error naming the endpoint and the field.
 */
import { z } from 'zod';
import { ResponseShapeError } from './errors.ts';

export interface ParsedFormatted {
  value: number | undefined;
  /** `C` prefix: the value is the previous close; `H`: the instrument is halted. */
  flag: 'prior-close' | 'halted' | undefined;
}

const SUFFIX: Record<string, number> = { K: 1e3, M: 1e6, B: 1e9, T: 1e12 };

/**
 * Parses a formatted market-data value: "168.42", "C211.05", "H10", "1,300", "12.3M", "+1.04",
 * "-0.54%", "" / "N/A" / null (unknown). Returns `undefined` value for unknown; NaN never escapes.
 */
export function parseFormatted(input: unknown): ParsedFormatted {
  if (typeof input === 'number') return { value: Number.isFinite(input) ? input : undefined, flag: undefined };
  if (typeof input !== 'string') return { value: undefined, flag: undefined };
  let s = input.trim();
  let flag: ParsedFormatted['flag'];
  if (s.startsWith('C')) {
    flag = 'prior-close';
    s = s.slice(1);
  } else if (s.startsWith('H')) {
    flag = 'halted';
    s = s.slice(1);
  }
  s = s.replace(/,/g, '').replace(/%$/, '').replace(/^\+/, '').trim();
  if (s === '' || /^(n\/?a|none|null|-)$/i.test(s)) return { value: undefined, flag };
  let mult = 1;
  const last = s.slice(-1).toUpperCase();
  if (SUFFIX[last]) {
    mult = SUFFIX[last];
    s = s.slice(0, -1);
  }
  if (!/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return { value: undefined, flag };
  const v = Number(s) * mult;
  return { value: Number.isFinite(v) ? v : undefined, flag };
}

/** A number that may arrive as a number, a (formatted) numeric string, "", "N/A" or null. */
export const lenientNumber = z
  .unknown()
  .transform((v, ctx): number | undefined => {
    if (v === null || v === undefined) return undefined;
    if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
    if (typeof v === 'string') {
      const t = v.trim();
      if (t === '' || /^(n\/?a|none|null)$/i.test(t)) return undefined;
      const p = parseFormatted(t.replace(/\s*[A-Z]{3}$/, '')); // "1,977.60 USD" style amounts
      if (p.value !== undefined) return p.value;
    }
    ctx.issues.push({ code: 'custom', message: `expected a number, got ${JSON.stringify(v)}`, input: v });
    return z.NEVER;
  });

/** A conid / order id: integer as number or string; required. */
export const lenientId = z.unknown().transform((v, ctx): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (Number.isInteger(n)) return n;
  ctx.issues.push({ code: 'custom', message: `expected an integer id, got ${JSON.stringify(v)}`, input: v });
  return z.NEVER;
});

/** A string that may arrive as a number, or be null/absent (→ undefined). */
export const lenientString = z.unknown().transform((v, ctx): string | undefined => {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  ctx.issues.push({ code: 'custom', message: `expected a string, got ${JSON.stringify(v)}`, input: v });
  return z.NEVER;
});

/** A boolean that may arrive as true/false, "true"/"false", 1/0 or "1"/"0"; null → undefined. */
export const lenientBool = z.unknown().transform((v, ctx): boolean | undefined => {
  if (v === null || v === undefined || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || v === 'true') return true;
  if (v === 0 || v === '0' || v === 'false') return false;
  ctx.issues.push({ code: 'custom', message: `expected a boolean, got ${JSON.stringify(v)}`, input: v });
  return z.NEVER;
});

/** Validates `data` with `schema`; a mismatch becomes a ResponseShapeError naming endpoint and field. */
export function decode<S extends z.ZodType>(schema: S, data: unknown, endpoint: string): z.output<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue ? issue.path.map(String).join('.') : '';
  let detail = issue?.message ?? 'is invalid';
  if (issue && issue.code === 'invalid_type') {
    const got = valueAt(data, issue.path);
    detail = `${issue.message} (got ${describe(got)})`;
  }
  throw new ResponseShapeError(endpoint, field, detail);
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Normalizes a side given as BUY/SELL, B/S, BOT/SLD, Buy/Sell. */
export function normalizeSide(v: string | undefined): 'BUY' | 'SELL' | undefined {
  if (!v) return undefined;
  const c = v.trim().toUpperCase()[0];
  return c === 'B' ? 'BUY' : c === 'S' ? 'SELL' : undefined;
}

export type OrderStatus =
  | 'PendingSubmit'
  | 'PendingCancel'
  | 'PreSubmitted'
  | 'Submitted'
  | 'Filled'
  | 'Cancelled'
  | 'Inactive'
  | 'WarnState'
  | 'Unknown';

const STATUS_MAP: Record<string, OrderStatus> = {
  pendingsubmit: 'PendingSubmit',
  apipending: 'PendingSubmit',
  pendingcancel: 'PendingCancel',
  precancelled: 'PendingCancel',
  presubmitted: 'PreSubmitted',
  submitted: 'Submitted',
  filled: 'Filled',
  cancelled: 'Cancelled',
  canceled: 'Cancelled',
  apicancelled: 'Cancelled',
  inactive: 'Inactive',
  warnstate: 'WarnState',
};

/** Maps the status vocabularies of the different endpoints ("Pre Submitted", "PreSubmitted", ...). */
export function normalizeStatus(v: string | undefined): OrderStatus {
  if (!v) return 'Unknown';
  return STATUS_MAP[v.replace(/[\s_]/g, '').toLowerCase()] ?? 'Unknown';
}

export function isTerminalStatus(s: OrderStatus): boolean {
  return s === 'Filled' || s === 'Cancelled' || s === 'Inactive';
}
