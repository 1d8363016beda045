/**
 * Bar files: CSV with header `time,symbol,open,high,low,close,volume` (any column order; extra
 * columns are ignored), one row per bar per symbol, rows in any order. `time` is epoch
 * milliseconds or ISO 8601 (a date-time without an offset is read as UTC). Every malformed row is
 * a UserError naming file, line and column; nothing is skipped silently except blank lines.
 *
 * Read as a stream, stored as float64 columns per symbol (keeping only the symbols asked for), then
 * sorted by time. Memory: 6 numbers a bar for each kept symbol.
 */
import { createReadStream, statSync } from 'node:fs';
import { UserError } from '../util/errors.ts';

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;
import { GrowableF64 } from './columns.ts';

export const CSV_COLUMNS = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

/** One symbol's bars, ascending by time, no duplicate times. */
export interface BarSeries {
  symbol: string;
  length: number;
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

export interface LoadCsvOptions {
  /** Keep only these symbols (others are still validated). Default: all. */
  symbols?: readonly string[];
  /** Called now and then with bytes read so far and the file size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

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

class SeriesBuilder {
  readonly time = new GrowableF64();
  readonly open = new GrowableF64();
  readonly high = new GrowableF64();
  readonly low = new GrowableF64();
  readonly close = new GrowableF64();
  readonly volume = new GrowableF64();
  readonly line = new GrowableF64();
  sorted = true;
  constructor(readonly symbol: string) {}
}

function splitCsvLine(line: string): string[] {
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

/** The file's lines, a batch per chunk read (one await per MB, not per line); `\r\n` handled. */
async function* lineBatches(file: string): AsyncGenerator<string[]> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let rest = '';
  for await (const chunk of stream as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    yield lines;
  }
  if (rest !== '') yield [rest];
}

const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;

/** Loads a bar file. Throws UserError on a missing file, a bad header or any malformed row. */
export async function loadBarsCsv(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UserError(`${file}: not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT'
      ? `${file}: no such data file. Fix: check the --data path (relative paths start from the current directory), or download bars with \`tandem history\`.`
      : `${file}: cannot read the data file (${code ?? String(err)}). Fix: check that it is a readable file.`);
  }
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  let lineNo = 0;
  let idx: Record<CsvColumn, number> | null = null;
  let numIdx: number[] = [];
  let nCols = 0;
  let bytes = 0;
  let nextReport = 0;
  // Both legs' rows usually share a time: parse each distinct time text once.
  let lastTimeText = '';
  let lastTime = 0;
  const nums = new Float64Array(5);
  const where = (col: number, fields: string[]): string => {
    let c = 1;
    for (let k = 0; k < col; k++) c += fields[k]!.length + 1;
    return `${file}:${lineNo}:${c}`;
  };

  const handle = (rawLine: string): void => {
    lineNo++;
    bytes += rawLine.length + 1;
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (lineNo === 1) line = line.replace(/^\uFEFF/, '');
    if (line.trim() === '') return;
    const fields = splitCsvLine(line);
    if (!idx) {
      const names = fields.map((f) => f.trim().toLowerCase());
      const found = {} as Record<CsvColumn, number>;
      for (const col of CSV_COLUMNS) {
        const i = names.indexOf(col);
        if (i < 0) {
          throw new UserError(`${file}:${lineNo}:1: the header lacks column '${col}'; expected a header line '${CSV_COLUMNS.join(',')}'`);
        }
        found[col] = i;
      }
      idx = found;
      numIdx = NUMERIC.map((c) => found[c]);
      nCols = fields.length;
      return;
    }
    if (fields.length !== nCols) {
      throw new UserError(`${file}:${lineNo}:1: ${fields.length} fields where the header has ${nCols}`);
    }
    const symbol = fields[idx.symbol]!.trim();
    if (symbol === '') throw new UserError(`${where(idx.symbol, fields)}: column 'symbol' is empty`);
    const timeText = fields[idx.time]!.trim();
    let t: number;
    if (timeText === lastTimeText) t = lastTime;
    else {
      const parsed = parseTime(timeText);
      if (typeof parsed === 'string') throw new UserError(`${where(idx.time, fields)}: column 'time': ${parsed}`);
      t = parsed;
      lastTimeText = timeText;
      lastTime = t;
    }
    for (let k = 0; k < 5; k++) {
      const text = fields[numIdx[k]!]!.trim();
      const v = text === '' ? NaN : Number(text);
      const col = NUMERIC[k]!;
      if (!Number.isFinite(v)) throw new UserError(`${where(numIdx[k]!, fields)}: column '${col}': '${text}' is not a number`);
      if (k === 4 ? v < 0 : v <= 0) {
        throw new UserError(`${where(numIdx[k]!, fields)}: column '${col}': ${text} must be ${k === 4 ? 'zero or more' : 'positive'}`);
      }
      nums[k] = v;
    }
    if (keep && !keep.has(symbol)) return;
    let b = builders.get(symbol);
    if (!b) {
      b = new SeriesBuilder(symbol);
      builders.set(symbol, b);
    }
    if (b.time.length > 0 && t <= b.time.get(b.time.length - 1)) b.sorted = false;
    b.time.push(t);
    b.open.push(nums[0]!);
    b.high.push(nums[1]!);
    b.low.push(nums[2]!);
    b.close.push(nums[3]!);
    b.volume.push(nums[4]!);
    b.line.push(lineNo);
  };

  for await (const batch of lineBatches(file)) {
    for (const line of batch) handle(line);
    if (opts.onProgress && bytes >= nextReport) {
      opts.onProgress(Math.min(bytes, size), size);
      nextReport = bytes + (1 << 20);
    }
  }
  if (!idx) throw new UserError(`${file}: the file is empty; expected a header line '${CSV_COLUMNS.join(',')}' and rows`);
  opts.onProgress?.(size, size);

  const out = new Map<string, BarSeries>();
  for (const [symbol, b] of builders) out.set(symbol, finish(file, b));
  return out;
}

function finish(file: string, b: SeriesBuilder): BarSeries {
  const n = b.time.length;
  const time = b.time.view();
  const cols = [b.time, b.open, b.high, b.low, b.close, b.volume, b.line].map((c) => c.view());
  let ordered = cols.map((c) => c.slice());
  if (!b.sorted) {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Stable sort by time so a duplicate is reported with its first line.
    order.sort((i, j) => time[i]! - time[j]! || i - j);
    ordered = cols.map((c) => {
      const o = new Float64Array(n);
      for (let i = 0; i < n; i++) o[i] = c[order[i]!]!;
      return o;
    });
  }
  const [t, open, high, low, close, volume, line] = ordered as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let i = 1; i < n; i++) {
    if (t[i] === t[i - 1]) {
      const a = Math.min(line[i]!, line[i - 1]!);
      const z = Math.max(line[i]!, line[i - 1]!);
      throw new UserError(`${file}:${z}:1: a second bar for ${b.symbol} at ${new Date(t[i]!).toISOString()} (the first is on line ${a})`);
    }
  }
  return { symbol: b.symbol, length: n, time: t, open, high, low, close, volume };
}
