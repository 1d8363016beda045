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
import { FastRows, IGNORED, NUM, SYMBOL, SymbolTable, TIME } from './csv-rows.ts';
import { finishSeries, SeriesBuilder, type BarSeries } from './series-builder.ts';

/** The largest time a JavaScript Date holds (±100,000,000 days from 1970). */
const MAX_DATE_MS = 8.64e15;

export const CSV_COLUMNS = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

export type { BarSeries } from './series-builder.ts';

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
const NL = 10;
/** Bytes read at a time. */
const CHUNK = 1 << 22;

/** Room reserved beyond a symbol's projected bar count (see reserveAhead; unused room costs address space only). */
const RESERVE_MARGIN = 1.1;

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
 * The file is read in 4 MB chunks of bytes and each row is parsed in place, in one pass over its
 * bytes: no string per line or per cell. Numbers are read digit by digit (csv-decimal.ts for 16–18
 * significant digits, `Number` on the cell's text for exponents and longer ones), times by
 * csv-bytes.ts (each distinct time once), and symbols are told by their bytes. A row the fast path
 * does not take (quotes, spaces around cells, offsets in times, or an error) is decoded and read by
 * `slowRow`, the reference reading, which reports errors as file:line:col; the fast path reads
 * every value exactly as slowRow would (tests/backtest-csv-identity.test.ts).
 */
export async function loadBarsCsv(file: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries>> {
  const { fh, size } = await openDataFile(file);
  const keep = opts.symbols ? new Set(opts.symbols) : null;
  const builders = new Map<string, SeriesBuilder>();
  let lineNo = 0;
  let idx: Record<CsvColumn, number> | null = null;
  let nCols = 0;
  // Both legs' rows usually share a time: the slow path parses each distinct time text once too.
  let lastTimeText: string | null = null;
  let lastTime = 0;
  const nums = new Float64Array(5);

  const symbols = new SymbolTable((symbol) => builderFor(symbol));
  const fast: FastRows = new FastRows((buf, s, e) => symbols.find(buf, s, e, fast.lastEntry));

  const builderFor = (symbol: string): SeriesBuilder | null => {
    if (keep && !keep.has(symbol)) return null;
    let b = builders.get(symbol);
    if (!b) {
      b = new SeriesBuilder(symbol);
      builders.set(symbol, b);
    }
    return b;
  };

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
      const roles = new Uint8Array(nCols).fill(IGNORED);
      roles[found.time] = TIME;
      roles[found.symbol] = SYMBOL;
      NUMERIC.forEach((c, k) => (roles[found[c]] = NUM + k));
      fast.roles = roles;
      fast.canonical = nCols === CSV_COLUMNS.length && CSV_COLUMNS.every((c, k) => found[c] === k);
      return;
    }
    if (fields.length !== nCols) {
      throw new UserError(`${file}:${lineNo}:1: ${fields.length} fields where the header has ${nCols}`, 'TANDEM_FILE_INVALID');
    }
    const symbol = fields[idx.symbol]!.trim();
    if (symbol === '') throw new UserError(`${where(idx.symbol)}: column 'symbol' is empty`, 'TANDEM_FILE_INVALID');
    const timeText = fields[idx.time]!.trim();
    let t: number;
    if (timeText === lastTimeText && fast.lastTimeLen < 0) t = lastTime;
    else {
      const parsed = parseTime(timeText);
      if (typeof parsed === 'string') throw new UserError(`${where(idx.time)}: column 'time': ${parsed}`, 'TANDEM_FILE_INVALID');
      t = parsed;
      lastTimeText = timeText;
      lastTime = t;
      fast.lastTimeLen = -1;
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
    if (b) b.add(t, nums[0]!, nums[1]!, nums[2]!, nums[3]!, nums[4]!, lineNo);
  };

  /** Every complete line of buf[0, end); returns where the unfinished last line starts. */
  const lines = (buf: Buffer, end: number, final: boolean): number => {
    let s = 0;
    // The end of the last complete line: the fast path reads only whole lines.
    let limit = -1;
    while (s < end) {
      if (idx !== null) {
        if (limit < 0) limit = end > 0 ? buf.lastIndexOf(NL, end - 1) + 1 : 0;
        if (s < limit) {
          fast.lineNo = lineNo;
          s = fast.run(buf, s, limit);
          lineNo = fast.lineNo;
          if (s === end) break;
        }
      }
      // One line the slow way: the header, a blank line, a row the fast path left, or the unfinished last line.
      lineNo++;
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

  /**
   * Reserves each kept symbol's columns for the bars it will likely have, projected from its share
   * of the lines so far and the file's size, so that they are not copied at every doubling.
   */
  const reserveAhead = (consumed: number): void => {
    if (lineNo < 1000 || consumed <= 0) return;
    const linesInFile = (lineNo * size) / consumed;
    for (const b of builders.values()) {
      // Reserved with a margin once; again only when the projection outgrows it.
      const projected = (b.length * linesInFile) / lineNo;
      if (projected > b.capacity) b.reserve(projected * RESERVE_MARGIN + 256);
    }
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
      reserveAhead(bytesRead - filled);
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
