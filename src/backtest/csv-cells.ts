/**
 * The bar file's cell rules, shared by the CSV reader (every thread of it) and the Parquet reader:
 * the columns a bar file has, and how a `time` cell and a quoted line are read.
 */

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;

export const CSV_COLUMNS = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses a `time` cell to epoch ms; returns an explanation string on failure. */
export function parseTime(text: string): number | string {
  if (/^-?\d+$/.test(text)) {
    const v = Number(text);
    if (!Number.isSafeInteger(v) || Math.abs(v) > MAX_DATE_MS) return `'${text}' is not a valid epoch-milliseconds time (beyond the range of dates)`;
    // Ten-digit values are almost surely epoch SECONDS: refuse rather than land in January 1970.
    if (Math.abs(v) < 1e11 && text.replace('-', '').length <= 10) {
      return `'${text}' looks like epoch seconds; times must be epoch milliseconds or ISO 8601`;
    }
    return v;
  }
  const m = ISO_RE.exec(text);
  if (!m) return `'${text}' is not an ISO 8601 UTC time (e.g. 2024-01-02T14:30:00Z) or epoch milliseconds`;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return `'${text}' is not a valid date-time`;
  }
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, second, frac ? Math.round(Number(frac) * 1000) : 0);
  if (new Date(ms).getUTCDate() !== day) return `'${text}' is not a valid date`;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return `'${text}' is beyond the range of dates`;
  return ms;
}

export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  // Minimal quoting: "a,b" and "" inside quotes.
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inQ) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') inQ = false;
      else cur += c;
    } else if (c === '"') inQ = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}
