/**
 * Bar files: CSV with header `time,symbol,open,high,low,close,volume` (any column order; extra
 * columns are ignored), one row per bar per symbol, rows in any order. `time` is epoch
 * milliseconds or ISO 8601 (a date-time without an offset is read as UTC). Every malformed row is
 * a UserError naming file, line and column; nothing is skipped silently except blank lines.
 *
 * Read as a stream, stored as float64 columns per symbol (keeping only the symbols asked for), then
 * sorted by time. Memory: 6 numbers a bar for each kept symbol.
 */
import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../util/errors.ts';

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;
import { GrowableF64 } from './columns.ts';
import { readTime } from './csv-bytes.ts';

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
  /** Bytes read at a time (default 4 MB; tests use small reads so rows straddle chunk ends). */
  readChunkBytes?: number;
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

/** One symbol's bars as they are read (any order), with the line or row each came from. */
export class SeriesBuilder {
  readonly time = new GrowableF64();
  readonly open = new GrowableF64();
  readonly high = new GrowableF64();
  readonly low = new GrowableF64();
  readonly close = new GrowableF64();
  readonly volume = new GrowableF64();
  readonly line = new GrowableF64();
  sorted = true;
  constructor(readonly symbol: string) {}

  /** One bar, from `line` (the file's line or row, for the duplicate error). */
  add(t: number, open: number, high: number, low: number, close: number, volume: number, line: number): void {
    if (this.time.length > 0 && t <= this.time.get(this.time.length - 1)) this.sorted = false;
    this.time.push(t);
    this.open.push(open);
    this.high.push(high);
    this.low.push(low);
    this.close.push(close);
    this.volume.push(volume);
    this.line.push(line);
  }
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

const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;
/** What a column of the file holds, for the fast path. */
const IGNORED = 0;
const TIME = 1;
const SYMBOL = 2;
/** Numeric columns are NUM + k, k indexing NUMERIC. */
const NUM = 3;
const NL = 10;
const CR = 13;
const COMMA = 44;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;
/** fastRow's answers besides the next line's start. */
const FAIL = -1;
const MORE = -2;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** Bytes read at a time. */
const CHUNK = 1 << 22;

/** A symbol seen in the file: its bytes (to recognise it without decoding), and its builder if kept. */
interface SymbolEntry {
  bytes: Uint8Array;
  builder: SeriesBuilder | null;
}

function sameBytes(bytes: Uint8Array, buf: Uint8Array, s: number, e: number): boolean {
  if (bytes.length !== e - s) return false;
  for (let k = 0; k < bytes.length; k++) if (bytes[k] !== buf[s + k]) return false;
  return true;
}

/** Opens the data file, turning a missing or unreadable one into a UserError that says what to do. */
export async function openDataFile(file: string): Promise<{ fh: FileHandle; size: number }> {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new UserError(`${file}: not a regular file`, 'TANDEM_FILE_INVALID');
    return { fh: await open(file, 'r'), size: st.size };
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT'
      ? `${file}: no such data file. Fix: check the --data path (relative paths start from the current directory), or download bars with \`tandem history\`.`
      : `${file}: cannot read the data file (${code ?? String(err)}). Fix: check that it is a readable file.`, code === 'ENOENT' ? 'TANDEM_FILE_NOT_FOUND' : 'TANDEM_FILE_INVALID');
  }
}

/**
 * Loads a bar file. Throws UserError on a missing file, a bad header or any malformed row.
 *
 * The file is read in 4 MB chunks of bytes and each row is parsed in place (see csv-bytes.ts): no
 * string per line or per cell. A row the fast path does not take (quotes, spaces around cells,
 * offsets in times, exponents, or an error) is decoded and read by `slowRow`, the reference
 * reading, which reports errors as file:line:col.
 */
export async function loadBarsCsv(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  const symbolEntries: SymbolEntry[] = [];
  const symbolsByKey = new Map<string, SymbolEntry>();
  let lastEntry: SymbolEntry | null = null;
  let lineNo = 0;
  let idx: Record<CsvColumn, number> | null = null;
  let roles = new Uint8Array(0);
  let nCols = 0;
  // Both legs' rows usually share a time: parse each distinct time text once.
  let lastTimeText = '';
  let lastTime = 0;
  let lastTimeBytes = new Uint8Array(64);
  let lastTimeLen = -1;
  const nums = new Float64Array(5);

  const builderFor = (symbol: string): SeriesBuilder | null => {
    if (keep && !keep.has(symbol)) return null;
    let b = builders.get(symbol);
    if (!b) {
      b = new SeriesBuilder(symbol);
      builders.set(symbol, b);
    }
    return b;
  };
  const push = (b: SeriesBuilder, t: number): void => b.add(t, nums[0]!, nums[1]!, nums[2]!, nums[3]!, nums[4]!, lineNo);

  /** The reference reading of one line (already without its `\n`); lineNo is the line's number. */
  const slowRow = (rawLine: string): void => {
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (lineNo === 1) line = line.replace(/^\uFEFF/, '');
    if (line.trim() === '') return;
    const fields = splitCsvLine(line);
    const where = (col: number): string => {
      let c = 1;
      for (let k = 0; k < col; k++) c += fields[k]!.length + 1;
      return `${file}:${lineNo}:${c}`;
    };
    if (!idx) {
      const names = fields.map((f) => f.trim().toLowerCase());
      const found = {} as Record<CsvColumn, number>;
      for (const col of CSV_COLUMNS) {
        const i = names.indexOf(col);
        if (i < 0) {
          throw new UserError(`${file}:${lineNo}:1: the header lacks column '${col}'; expected a header line '${CSV_COLUMNS.join(',')}'`, 'TANDEM_FILE_INVALID');
        }
        found[col] = i;
      }
      idx = found;
      nCols = fields.length;
      roles = new Uint8Array(nCols).fill(IGNORED);
      roles[found.time] = TIME;
      roles[found.symbol] = SYMBOL;
      NUMERIC.forEach((c, k) => (roles[found[c]] = NUM + k));
      return;
    }
    if (fields.length !== nCols) {
      throw new UserError(`${file}:${lineNo}:1: ${fields.length} fields where the header has ${nCols}`, 'TANDEM_FILE_INVALID');
    }
    const symbol = fields[idx.symbol]!.trim();
    if (symbol === '') throw new UserError(`${where(idx.symbol)}: column 'symbol' is empty`, 'TANDEM_FILE_INVALID');
    const timeText = fields[idx.time]!.trim();
    let t: number;
    if (timeText === lastTimeText) t = lastTime;
    else {
      const parsed = parseTime(timeText);
      if (typeof parsed === 'string') throw new UserError(`${where(idx.time)}: column 'time': ${parsed}`, 'TANDEM_FILE_INVALID');
      t = parsed;
      lastTimeText = timeText;
      lastTime = t;
      lastTimeLen = -1;
    }
    for (let k = 0; k < 5; k++) {
      const col = idx[NUMERIC[k]!];
      const text = fields[col]!.trim();
      const v = text === '' ? NaN : Number(text);
      if (!Number.isFinite(v)) throw new UserError(`${where(col)}: column '${NUMERIC[k]}': '${text}' is not a number`, 'TANDEM_FILE_INVALID');
      if (k === 4 ? v < 0 : v <= 0) {
        throw new UserError(`${where(col)}: column '${NUMERIC[k]}': ${text} must be ${k === 4 ? 'zero or more' : 'positive'}`, 'TANDEM_FILE_INVALID');
      }
      nums[k] = v;
    }
    const b = builderFor(symbol);
    if (b) push(b, t);
  };

  /** The symbol entry for buf[s, e), added on first sight. */
  const symbolAt = (buf: Uint8Array, s: number, e: number): SymbolEntry => {
    if (lastEntry !== null && sameBytes(lastEntry.bytes, buf, s, e)) return lastEntry;
    let found: SymbolEntry | undefined;
    if (symbolEntries.length <= 8) {
      for (const x of symbolEntries) {
        if (sameBytes(x.bytes, buf, s, e)) {
          found = x;
          break;
        }
      }
    } else found = symbolsByKey.get(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1'));
    if (!found) {
      const bytes = Uint8Array.prototype.slice.call(buf, s, e);
      found = { bytes, builder: builderFor(Buffer.from(bytes).toString('utf8')) };
      symbolEntries.push(found);
      symbolsByKey.set(Buffer.from(bytes).toString('latin1'), found);
    }
    lastEntry = found;
    return found;
  };

  /**
   * The current chunk as latin1 text (one character a byte, so offsets match), made only when a
   * number has more than 15 significant digits: `Number` of a substring is then the exact reading.
   */
  let chunkText: string | null = null;
  let chunk: Buffer | null = null;
  const longNumber = (s: number, e: number): number => {
    chunkText ??= chunk!.toString('latin1', 0, chunkEnd);
    return Number(chunkText.substring(s, e));
  };
  let chunkEnd = 0;

  /**
   * Reads the row that starts at buf[s] without making strings, in one pass over its bytes.
   * Returns where the next line starts; FAIL to leave the row to slowRow; MORE when the row runs
   * past `end` without its `\n` (read more of the file first). At the file's end (`final`) the
   * last row may lack its `\n`.
   */
  const fastRow = (buf: Uint8Array, s: number, end: number, final: boolean): number => {
    let p = s;
    let entry: SymbolEntry | null = null;
    let t = NaN;
    for (let col = 0; ; col++) {
      const role = col < nCols ? roles[col]! : IGNORED;
      const fs = p;
      let c = 0;
      if (role >= NUM) {
        // digits[.digits], read as it is scanned (see readDecimal, the same reading).
        let m = 0;
        let dot = -1;
        for (; p < end; p++) {
          c = buf[p]!;
          const d = c - 48;
          if (d >= 0 && d <= 9) m = m * 10 + d;
          else if (c === COMMA || c === NL || c === CR) break;
          else if (c === 46 && dot < 0) dot = p;
          else return FAIL;
        }
        if (p === end && !final) return MORE;
        const nDigits = p - fs - (dot >= 0 ? 1 : 0);
        if (nDigits <= 0) return FAIL;
        const frac = dot >= 0 ? p - dot - 1 : 0;
        let v: number;
        if (m < 1e15) v = frac > 0 ? (frac <= 22 ? m / POW10[frac]! : NaN) : m;
        // More than 15 significant digits: m is no longer exact; Number reads the text exactly.
        else v = longNumber(fs, p);
        // Zero where the column wants a positive number: the slow path words the error.
        if (!(v > 0 || (v === 0 && role === NUM + 4))) return FAIL;
        nums[role - NUM] = v;
      } else {
        for (; p < end; p++) {
          c = buf[p]!;
          if (c === COMMA || c === NL || c === CR) break;
          if (c === QUOTE) return FAIL;
        }
        if (p === end && !final) return MORE;
        if (role !== IGNORED) {
          const fe = p;
          if (fe === fs) return FAIL;
          const c0 = buf[fs]!;
          const c1 = buf[fe - 1]!;
          if (c0 === SPACE || c0 === TAB || c1 === SPACE || c1 === TAB) return FAIL;
          if (role === TIME) {
            const n = fe - fs;
            // From the end: two different times usually differ in their last digits.
            let same = n === lastTimeLen;
            for (let k = n - 1; same && k >= 0; k--) same = lastTimeBytes[k] === buf[fs + k];
            if (same) t = lastTime;
            else {
              t = readTime(buf, fs, fe);
              if (Number.isNaN(t)) return FAIL;
              if (n > lastTimeBytes.length) lastTimeBytes = new Uint8Array(n * 2);
              for (let k = 0; k < n; k++) lastTimeBytes[k] = buf[fs + k]!;
              lastTimeLen = n;
              lastTime = t;
              lastTimeText = '';
            }
          } else {
            entry = symbolAt(buf, fs, fe);
          }
        }
      }
      if (p === end) {
        if (col !== nCols - 1) return FAIL;
        break;
      }
      if (c === COMMA) {
        p++;
        continue;
      }
      // The line's end: `\n`, or `\r\n`.
      if (c === CR) {
        if (p + 1 < end && buf[p + 1] === NL) p++;
        else return p + 1 === end && !final ? MORE : FAIL;
      }
      if (col !== nCols - 1) return FAIL;
      p++;
      break;
    }
    if (entry!.builder) push(entry!.builder, t);
    return p;
  };

  /** Every complete line of buf[0, end); returns where the unfinished last line starts. */
  const lines = (buf: Buffer, end: number, final: boolean): number => {
    let s = 0;
    chunk = buf;
    chunkEnd = end;
    chunkText = null;
    while (s < end) {
      lineNo++;
      if (idx !== null && buf[s] !== NL && buf[s] !== CR) {
        const next = fastRow(buf, s, end, final);
        if (next >= 0) {
          s = next;
          continue;
        }
        if (next === MORE) {
          lineNo--;
          return s;
        }
      }
      let nl = buf.indexOf(NL, s);
      if (nl < 0 || nl >= end) {
        if (!final) {
          lineNo--;
          return s;
        }
        nl = end;
      }
      slowRow(buf.toString('utf8', s, nl));
      s = nl + 1;
    }
    return end;
  };

  try {
    let buf = Buffer.allocUnsafe(opts.readChunkBytes ?? CHUNK);
    let filled = 0;
    let bytesRead = 0;
    for (;;) {
      if (filled === buf.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead: got } = await fh.read(buf, filled, buf.length - filled, null);
      bytesRead += got;
      filled += got;
      const rest = lines(buf, filled, got === 0);
      buf.copy(buf, 0, rest, filled);
      filled -= rest;
      opts.onProgress?.(Math.min(bytesRead, size), size);
      if (got === 0) break;
    }
  } finally {
    await fh.close();
  }
  if (!idx) throw new UserError(`${file}: the file is empty; expected a header line '${CSV_COLUMNS.join(',')}' and rows`, 'TANDEM_FILE_INVALID');

  const out = new Map<string, BarSeries>();
  for (const [symbol, b] of builders) {
    out.set(symbol, finishSeries(b, (first, second, t) => `${file}:${second}:1: a second bar for ${symbol} at ${t} (the first is on line ${first})`));
  }
  return out;
}

/**
 * A builder's bars sorted by time; a second bar at the same time is a UserError worded by
 * `duplicate` (the lines or rows of both, the time in ISO 8601).
 */
export function finishSeries(b: SeriesBuilder, duplicate: (first: number, second: number, iso: string) => string): BarSeries {
  const n = b.time.length;
  const time = b.time.view();
  const cols = [b.time, b.open, b.high, b.low, b.close, b.volume, b.line].map((c) => c.view());
  // Already in order (the usual case): the builders' buffers themselves, no copy.
  let ordered = cols;
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
      throw new UserError(duplicate(a, z, new Date(t[i]!).toISOString()), 'TANDEM_FILE_INVALID');
    }
  }
  return { symbol: b.symbol, length: n, time: t, open, high, low, close, volume };
}
