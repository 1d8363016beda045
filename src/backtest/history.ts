/**
 * History from the gateway for a backtest: both legs' bars over [from, to) through the IBKR client
 * (contract resolution, paged history requests under its pacing), written as a bar file in the
 * format of docs/strategy.md so the backtest that follows, and any later one, reads a plain file.
 * The cache of downloaded history (`<dataDir>/history/`) is Parquet: typed columns, a fraction of
 * the CSV's size, read without parsing text (see parquet.ts); `--out x.csv` still writes CSV.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { IbkrClient } from '../ibkr/client.ts';
import type { Bar } from '../ibkr/market-data.ts';
import type { LegConfig } from '../strategies/cointegration/params.ts';
import { UserError } from '../util/errors.ts';
import { CSV_COLUMNS, parseTime, type BarSeries } from './csv.ts';

/** Bar sizes the history endpoint accepts. */
export const GATEWAY_BARS = ['1min', '2min', '3min', '5min', '10min', '15min', '30min', '1h', '2h', '3h', '4h', '8h', '1d'] as const;

/**
 * `--start`/`--end` dates: ISO 8601 or epoch ms as in bar files. A date without a time in `--end`
 * means the end of that day (the day is included); otherwise the end is exclusive.
 */
export function parseRange(start: string, end: string): { from: number; to: number } {
  const s = parseTime(start.trim());
  if (typeof s === 'string') throw new UserError(`--start ${start}: ${s}`);
  const e = parseTime(end.trim());
  if (typeof e === 'string') throw new UserError(`--end ${end}: ${e}`);
  const to = /^\d{4}-\d{2}-\d{2}$/.test(end.trim()) ? e + 86_400_000 : e;
  if (!(to > s)) throw new UserError(`--start ${start} is not before --end ${end}`);
  return { from: s, to };
}

function toSeries(symbol: string, bars: Bar[]): BarSeries {
  const n = bars.length;
  const s: BarSeries = {
    symbol,
    length: n,
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  bars.forEach((b, i) => {
    s.time[i] = b.t;
    s.open[i] = b.o;
    s.high[i] = b.h;
    s.low[i] = b.l;
    s.close[i] = b.c;
    s.volume[i] = b.v;
  });
  return s;
}

export interface PairHistoryRequest {
  legs: { y: LegConfig; x: LegConfig };
  bar: string;
  from: number;
  to: number;
  /** Progress: history pages done and in all, over both legs (the second leg's count joins when it starts). */
  onProgress?: (done: number, total: number) => void;
}

/** Bar sizes the gateway serves, checked before any request. */
export function checkGatewayBar(bar: string): void {
  if (!(GATEWAY_BARS as readonly string[]).includes(bar)) {
    throw new UserError(`bar ${bar}: the gateway's history has bars of ${GATEWAY_BARS.join(', ')}`);
  }
}

/** What identifies an instrument for a history download (a strategy leg has all of it). */
export type HistoryInstrument = Pick<LegConfig, 'symbol' | 'secType' | 'currency' | 'exchange'> & { conid?: number | undefined };

/** One instrument's bars over [from, to) (ascending, unique times) from a connected client. */
export async function downloadHistory(
  client: IbkrClient,
  inst: HistoryInstrument,
  bar: string,
  from: number,
  to: number,
  onPage?: (done: number, total: number) => void,
): Promise<BarSeries> {
  checkGatewayBar(bar);
  const conid =
    inst.conid ??
    (
      await client.contracts.resolve({
        symbol: inst.symbol,
        secType: inst.secType,
        currency: inst.currency,
        // SMART is a routing destination, not a listing: let the client find the listing.
        ...(inst.exchange && inst.exchange.toUpperCase() !== 'SMART' ? { exchange: inst.exchange } : {}),
      })
    ).conid;
  const bars = await client.marketData.history(conid, { bar, from, to, ...(onPage ? { onPage } : {}) });
  if (bars.length === 0) {
    throw new UserError(`the gateway returned no ${bar} bars for ${inst.symbol} (conid ${conid}) between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`);
  }
  return toSeries(inst.symbol, bars);
}

/** Both legs' bars (ascending, unique times) from a connected client. */
export async function downloadPairHistory(client: IbkrClient, req: PairHistoryRequest): Promise<BarSeries[]> {
  checkGatewayBar(req.bar);
  const out: BarSeries[] = [];
  let before = 0;
  for (const leg of [req.legs.y, req.legs.x]) {
    let pages = 0;
    out.push(
      await downloadHistory(client, leg, req.bar, req.from, req.to, (done, total) => {
        pages = total;
        // Both legs page alike: count the second leg's pages from the start.
        req.onProgress?.(before + done, out.length === 0 ? 2 * total : before + total);
      }),
    );
    before += pages;
  }
  return out;
}

/** Writes series as a bar file (ISO times, one row per bar per symbol, by time then symbol). */
export async function writeBarsCsv(file: string, series: BarSeries[]): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([e]) => {
    throw e;
  });
  failed.catch(() => {});
  const rows: { t: number; line: string }[] = [];
  for (const s of series) {
    for (let i = 0; i < s.length; i++) {
      rows.push({ t: s.time[i]!, line: `${new Date(s.time[i]!).toISOString()},${s.symbol},${s.open[i]},${s.high[i]},${s.low[i]},${s.close[i]},${s.volume[i]}` });
    }
  }
  rows.sort((a, b) => a.t - b.t);
  let buf = CSV_COLUMNS.join(',') + '\n';
  for (const r of rows) {
    buf += r.line + '\n';
    if (buf.length > 1 << 16) {
      if (!out.write(buf)) await Promise.race([once(out, 'drain'), failed]);
      buf = '';
    }
  }
  out.end(buf);
  await Promise.race([once(out, 'finish'), failed]);
}
