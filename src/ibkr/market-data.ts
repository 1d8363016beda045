/**
 * Market data over REST: snapshots and history bars.
 *
 * Snapshots (§5.1): the first request for a conid is a "pre-flight" that usually returns no values,
 * so the client re-polls (every ~500 ms, a few times) until the requested fields are there. Values
 * are formatted strings: "C" (prior close) / "H" (halted) prefixes on the last price, thousands
 * separators ("1,300"), abbreviations ("12.3M"), empty or missing fields — all decoded here.
 *
 * History (§5.4): at most 1000 bars per request, so a long range is cut into pages; pages run at
 * most 5 at a time (the gateway's concurrency cap, enforced by the pacer) at bulk priority.
 */
import { z } from 'zod';
import type { GatewayApi } from './api.ts';
import { sleep } from './api.ts';
import { lenientId, lenientNumber, lenientString, parseFormatted } from './decode.ts';

/** Field ids of the snapshot/`smd` data (§5.3). */
export const FIELD = {
  last: '31',
  symbol: '55',
  high: '70',
  low: '71',
  change: '82',
  changePct: '83',
  bid: '84',
  askSize: '85',
  ask: '86',
  volume: '87',
  bidSize: '88',
  availability: '6509',
  lastSize: '7059',
  priorClose: '7741',
  volumeRaw: '7762',
  open: '7295',
} as const;

export const DEFAULT_QUOTE_FIELDS: string[] = [
  FIELD.last, FIELD.bid, FIELD.ask, FIELD.bidSize, FIELD.askSize, FIELD.volume, FIELD.availability, FIELD.lastSize,
];

export interface Quote {
  conid: number;
  last?: number;
  /** `prior-close`: the last price is the previous close (no trade today); `halted`: trading halted. */
  lastFlag?: 'prior-close' | 'halted';
  bid?: number;
  ask?: number;
  bidSize?: number;
  askSize?: number;
  lastSize?: number;
  volume?: number;
  high?: number;
  low?: number;
  priorClose?: number;
  /** Field 6509: first letter R realtime, D delayed, Z frozen, Y frozen delayed, N not subscribed. */
  availability?: string;
  /** Epoch ms of the gateway's last update. */
  updatedAt?: number;
  /** Every field as received, keyed by field id. */
  raw: Record<string, unknown>;
  /**
   * Set by the stream only when this update is a trade: the last price changed (no `C`/`H` prefix)
   * or the cumulative volume grew; `size` is the volume growth (or the frame's last size).
   */
  trade?: { price: number; size?: number; time: number };
}

const snapshotRowSchema = z.looseObject({
  conid: lenientId,
  conidEx: lenientString.optional(),
  _updated: lenientNumber.optional(),
});
const snapshotSchema = z.union([z.array(snapshotRowSchema), z.looseObject({}).transform(() => [] as z.output<typeof snapshotRowSchema>[])]);

/** Turns a snapshot/`smd` row into a Quote (missing fields stay undefined). */
export function toQuote(row: Record<string, unknown>, conid: number): Quote {
  const num = (id: string) => parseFormatted(row[id]).value;
  const last = parseFormatted(row[FIELD.last]);
  const availability = typeof row[FIELD.availability] === 'string' ? (row[FIELD.availability] as string) : undefined;
  const updated = row._updated;
  return {
    conid,
    last: last.value,
    lastFlag: last.flag,
    bid: num(FIELD.bid),
    ask: num(FIELD.ask),
    bidSize: num(FIELD.bidSize),
    askSize: num(FIELD.askSize),
    lastSize: num(FIELD.lastSize),
    volume: num(FIELD.volumeRaw) ?? num(FIELD.volume),
    high: num(FIELD.high),
    low: num(FIELD.low),
    priorClose: num(FIELD.priorClose),
    availability,
    updatedAt: typeof updated === 'number' ? updated : typeof updated === 'string' ? Number(updated) || undefined : undefined,
    raw: row,
  };
}

export interface SnapshotOptions {
  fields?: string[];
  /** Polls after the pre-flight; default 6. */
  maxPolls?: number;
  /** Delay between polls; default 500 ms (the gateway's snapshot interval). */
  pollIntervalMs?: number;
  /** Field ids that must be present to stop polling early; default: last, or bid and ask. */
  require?: (q: Quote) => boolean;
}

export interface Bar {
  /** Bar start, epoch ms. */
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

const historySchema = z.looseObject({
  symbol: lenientString.optional(),
  mdAvailability: lenientString.optional(),
  barLength: lenientNumber.optional(),
  data: z
    .array(z.looseObject({ t: lenientNumber, o: lenientNumber, h: lenientNumber, l: lenientNumber, c: lenientNumber, v: lenientNumber.optional() }))
    .nullish(),
});

export type BarSize = '1min' | '2min' | '3min' | '5min' | '10min' | '15min' | '30min' | '1h' | '2h' | '3h' | '4h' | '8h' | '1d' | '1w' | '1m';

export function barSeconds(bar: BarSize | string): number {
  const m = /^(\d+)(min|h|d|w|m)$/.exec(bar);
  if (!m) throw new Error(`unknown bar size ${bar}`);
  const n = Number(m[1]);
  const unit = { min: 60, h: 3600, d: 86_400, w: 604_800, m: 2_592_000 }[m[2] as 'min' | 'h' | 'd' | 'w' | 'm'];
  return n * unit;
}

/** Max bars per history request (§5.4). */
export const MAX_HISTORY_POINTS = 1000;

/** Period strings the endpoint accepts, smallest first, with their length in seconds. */
const PERIODS: { period: string; seconds: number }[] = [
  ...Array.from({ length: 30 }, (_, i) => ({ period: `${i + 1}min`, seconds: (i + 1) * 60 })),
  ...Array.from({ length: 8 }, (_, i) => ({ period: `${i + 1}h`, seconds: (i + 1) * 3600 })),
  ...Array.from({ length: 1000 }, (_, i) => ({ period: `${i + 1}d`, seconds: (i + 1) * 86_400 })),
];

/**
 * Cuts [from, to) into pages of at most 1000 bars, newest first: each page is a `period` ending at
 * `startTime` (the endpoint's default direction).
 */
export function planHistoryPages(bar: string, fromMs: number, toMs: number): { period: string; startTime: string; endMs: number; startMs: number }[] {
  const bs = barSeconds(bar);
  const pages: { period: string; startTime: string; endMs: number; startMs: number }[] = [];
  let end = toMs;
  while (end > fromMs) {
    const remaining = (end - fromMs) / 1000;
    const fitting = PERIODS.filter((p) => p.seconds / bs <= MAX_HISTORY_POINTS);
    const choice = fitting.find((p) => p.seconds >= remaining) ?? fitting[fitting.length - 1];
    if (!choice) throw new Error(`bar size ${bar} too large to page`);
    pages.push({ period: choice.period, startTime: formatStartTime(end), endMs: end, startMs: end - choice.seconds * 1000 });
    end -= choice.seconds * 1000;
  }
  return pages;
}

/** `YYYYMMDD-HH:mm:ss` in UTC. */
export function formatStartTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

export interface HistoryOptions {
  bar: BarSize | string;
  /** A period string (`1d`, `8h`, ...) ending now, or use from/to. */
  period?: string;
  from?: Date | number;
  to?: Date | number;
  outsideRth?: boolean;
  exchange?: string;
  source?: 'Last' | 'Trades' | 'Midpoint' | 'Bid_Ask';
}

export class MarketDataApi {
  constructor(private readonly api: GatewayApi) {}

  /** One raw snapshot call (no re-polling). */
  async snapshotOnce(conids: number[], fields: string[] = DEFAULT_QUOTE_FIELDS): Promise<Quote[]> {
    if (conids.length === 0) return [];
    if (conids.length > 100) throw new Error('at most 100 conids per snapshot');
    const rows = await this.api.request({
      method: 'GET',
      path: '/iserver/marketdata/snapshot',
      query: { conids: conids.join(','), fields: fields.slice(0, 50).join(',') },
      schema: snapshotSchema,
      requires: 'iserver',
    });
    return rows.map((r) => toQuote(r as Record<string, unknown>, r.conid));
  }

  /**
   * Quotes for `conids`, re-polling past the pre-flight answer until every conid has its required
   * fields or the polls run out (the last answer is returned; missing fields stay undefined).
   */
  async snapshot(conids: number[], opts: SnapshotOptions = {}): Promise<Quote[]> {
    const fields = opts.fields ?? DEFAULT_QUOTE_FIELDS;
    const maxPolls = opts.maxPolls ?? 6;
    const interval = opts.pollIntervalMs ?? 500;
    const ready = opts.require ?? ((q: Quote) => q.last !== undefined || (q.bid !== undefined && q.ask !== undefined));
    const latest = new Map<number, Quote>();
    for (let poll = 0; poll <= maxPolls; poll++) {
      const missing = conids.filter((c) => !latest.has(c) || !ready(latest.get(c)!));
      if (missing.length === 0) break;
      if (poll > 0) await sleep(interval);
      for (let i = 0; i < missing.length; i += 100) {
        for (const q of await this.snapshotOnce(missing.slice(i, i + 100), fields)) latest.set(q.conid, q);
      }
    }
    return conids.map((c) => latest.get(c) ?? { conid: c, raw: {} });
  }

  /** One history request (≤1000 bars). */
  async historyPage(conid: number, opts: { bar: string; period: string; startTime?: string; outsideRth?: boolean; exchange?: string; source?: string }): Promise<Bar[]> {
    const r = await this.api.request({
      method: 'GET',
      path: '/iserver/marketdata/history',
      query: { conid, bar: opts.bar, period: opts.period, startTime: opts.startTime, outsideRth: opts.outsideRth, exchange: opts.exchange, source: opts.source },
      schema: historySchema,
      requires: 'iserver',
      priority: 'bulk',
    });
    return (r.data ?? [])
      .filter((b) => b.t !== undefined && b.o !== undefined && b.h !== undefined && b.l !== undefined && b.c !== undefined)
      .map((b) => ({ t: b.t!, o: b.o!, h: b.h!, l: b.l!, c: b.c!, v: b.v ?? 0 }));
  }

  /**
   * Bars for a period ending now, or for [from, to): paged within the 1000-point limit, pages
   * fetched concurrently (the pacer caps them at 5 in flight), merged, de-duplicated, sorted.
   */
  async history(conid: number, opts: HistoryOptions): Promise<Bar[]> {
    if (opts.period && opts.from === undefined) {
      return this.historyPage(conid, { bar: opts.bar, period: opts.period, outsideRth: opts.outsideRth, exchange: opts.exchange, source: opts.source });
    }
    const to = opts.to === undefined ? Date.now() : +opts.to;
    const from = opts.from === undefined ? to - 86_400_000 : +opts.from;
    const pages = planHistoryPages(opts.bar, from, to);
    const results = await Promise.all(
      pages.map((p) =>
        this.historyPage(conid, { bar: opts.bar, period: p.period, startTime: p.startTime, outsideRth: opts.outsideRth, exchange: opts.exchange, source: opts.source }),
      ),
    );
    const byTime = new Map<number, Bar>();
    for (const bars of results) for (const b of bars) if (b.t >= from && b.t < to) byTime.set(b.t, b);
    return [...byTime.values()].sort((a, b) => a.t - b.t);
  }

  /** `POST /iserver/marketdata/unsubscribe` (a 404/500 "nothing to unsubscribe" is not an error). */
  async unsubscribe(conid: number): Promise<void> {
    try {
      await this.api.requestRaw({ method: 'POST', path: '/iserver/marketdata/unsubscribe', body: { conid }, idempotent: true, requires: 'iserver' });
    } catch {
      /* nothing subscribed */
    }
  }
}
