/**
 * What `tandem trades` prints: the fills since a time and the round trips that started since then,
 * as text, JSON or CSV.
 */
import type { JournalReader, ReaderFill } from './journal-reader.ts';
import { roundTrips, type RoundTrip } from './round-trips.ts';

export interface TradesReport {
  journal: string;
  since: number;
  fills: ReaderFill[];
  roundTrips: RoundTrip[];
  totals: { closed: number; open: number; realisedPnl: number; commission: number };
}

export function tradesReport(reader: JournalReader, since = 0): TradesReport {
  const marks = Object.fromEntries(reader.lastBars().map((b) => [b.symbol, b.close]));
  // Round trips need every fill (a trip's position builds from its first one); the filter comes after.
  const trips = roundTrips(reader.fills(), reader.orders(), reader.decisions(), { marks }).filter((t) => t.entryTime >= since || (t.exitTime ?? Infinity) >= since);
  const fills = reader.fills({ since });
  const closed = trips.filter((t) => !t.open);
  return {
    journal: reader.file, since, fills, roundTrips: trips,
    totals: {
      closed: closed.length, open: trips.length - closed.length,
      realisedPnl: round2(closed.reduce((s, t) => s + (t.pnl ?? 0), 0)),
      commission: round2(fills.reduce((s, f) => s + f.commission, 0)),
    },
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
const iso = (t: number | null): string => (t === null ? '' : new Date(t).toISOString().replace('.000Z', 'Z'));
const money = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));

export function renderTradesText(r: TradesReport): string {
  const out: string[] = [];
  out.push(`round trips${r.since ? ` since ${iso(r.since)}` : ''}: ${r.totals.closed} closed, realised P&L ${money(r.totals.realisedPnl)}; ${r.totals.open} open`);
  for (const t of r.roundTrips) {
    const legs = Object.entries(t.legs).map(([s, q]) => `${s} ${q}`).join(', ');
    out.push(`  #${t.n} ${t.strategyId} ${t.side.padEnd(5)} ${iso(t.entryTime)} (${t.entryReason ?? '?'}) -> ${t.open ? 'open' : `${iso(t.exitTime)} (${t.exitReason ?? '?'})`}  ${legs}  fills ${t.fills}  P&L ${money(t.pnl)}${t.open ? ' (marked)' : ''}`);
  }
  out.push('');
  out.push(`fills (${r.fills.length}, commission ${money(r.totals.commission)})`);
  for (const f of r.fills) out.push(`  ${iso(f.time)}  ${f.strategyId}  ${f.side.padEnd(4)} ${String(f.qty).padStart(10)} ${f.symbol.padEnd(8)} @ ${f.price.toFixed(4)}  comm ${f.commission.toFixed(2)}  ${f.cOID ?? ''}`);
  return `${out.join('\n')}\n`;
}

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = (header: string[], rows: unknown[][]): string => [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';

export function tripsCsv(trips: RoundTrip[]): string {
  return csv(['n', 'strategy', 'side', 'entry_time', 'entry_reason', 'exit_time', 'exit_reason', 'legs', 'fills', 'commission', 'pnl', 'open'],
    trips.map((t) => [t.n, t.strategyId, t.side, iso(t.entryTime), t.entryReason, iso(t.exitTime), t.exitReason, Object.entries(t.legs).map(([s, q]) => `${s}:${q}`).join(' '), t.fills, t.commission.toFixed(2), t.pnl, t.open]));
}

export function fillsCsv(fills: ReaderFill[]): string {
  return csv(['time', 'strategy', 'exec_id', 'coid', 'symbol', 'side', 'qty', 'price', 'commission'],
    fills.map((f) => [iso(f.time), f.strategyId, f.execId, f.cOID, f.symbol, f.side, f.qty, f.price, f.commission]));
}
