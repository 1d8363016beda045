/**
 * The CSV loader's fast path (csv.ts): reads a run of complete rows straight from the file's bytes
 * into the symbols' columns, in one pass and without making a string, and stops at the first row it
 * does not take (a blank line, quotes, spaces around a cell, an offset in a time, a bad cell), which
 * the loader then reads the slow, reference way: that reading accepts the row with the same values
 * or reports the error with file:line:col. So this must never accept a row the slow path refuses,
 * nor read a value differently (tests/backtest-csv-identity.test.ts).
 *
 * Why a loop over many rows in one call, with its state in locals: at ~100 bytes a row, a call, a
 * closure's variables and a check of the buffer's end per byte cost as much as the parsing. The
 * caller passes only complete rows (up to a chunk's last `\n`), so every scan stops at a delimiter
 * without looking for the end.
 */
import { readTimeInto } from './csv-bytes.ts';
import { decimalInto, POW10 } from './csv-decimal.ts';
import type { SeriesBuilder } from './series-builder.ts';

/** What a column of the file holds. Numeric columns are NUM + k, k indexing open, high, low, close, volume. */
export const IGNORED = 0;
export const TIME = 1;
export const SYMBOL = 2;
export const NUM = 3;
const HIGH = NUM + 1;
const LOW = NUM + 2;
const VOLUME = NUM + 4;
const LAST_TIME = VOLUME + 1;

const NL = 10;
const CR = 13;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const D0 = 48;
const D9 = 57;
const UPPER_E = 69;
const LOWER_E = 101;

/** A symbol seen in the file: its bytes (to recognise it without decoding), and its builder if kept. */
export interface SymbolEntry {
  bytes: Uint8Array;
  builder: SeriesBuilder | null;
  /** False when the cell has space around the name: such rows are left to the slow path, which trims. */
  trimmed: boolean;
  /** The symbol of the row after this one's last row: usually the next row's. */
  next: SymbolEntry | null;
}

export function sameBytes(bytes: Uint8Array, buf: Buffer, s: number, e: number): boolean {
  const n = bytes.length;
  if (n !== e - s) return false;
  for (let k = 0; k < n; k++) if (bytes[k] !== buf[s + k]) return false;
  return true;
}

/** The symbols of a file by their bytes, each with its builder if kept (builderFor says). */
export class SymbolTable {
  private readonly entries: SymbolEntry[] = [];
  private readonly byKey = new Map<string, SymbolEntry>();
  constructor(private readonly builderFor: (symbol: string) => SeriesBuilder | null) {}

  /** The entry for buf[s, e), added on first sight, and linked as the one after `last`. */
  find(buf: Buffer, s: number, e: number, last: SymbolEntry | null): SymbolEntry {
    let found: SymbolEntry | undefined;
    if (this.entries.length <= 8) {
      for (const x of this.entries) {
        if (sameBytes(x.bytes, buf, s, e)) {
          found = x;
          break;
        }
      }
    } else found = this.byKey.get(buf.toString('latin1', s, e));
    if (!found) {
      const bytes = Uint8Array.prototype.slice.call(buf, s, e);
      const name = buf.toString('utf8', s, e);
      // Space around the name (as String.trim sees it): the slow path trims it and finds the builder.
      const trimmed = name === name.trim();
      found = { bytes, builder: trimmed ? this.builderFor(name) : null, trimmed, next: null };
      this.entries.push(found);
      this.byKey.set(buf.toString('latin1', s, e), found);
    }
    if (last !== null) last.next = found;
    return found;
  }
}

/** The last number read (out of a call: a double returned by a call not inlined costs a heap number). */
const scratch = new Float64Array(1);

/**
 * A number cell at buf[p]: `digits[.digits]`, or with an exponent (then read by `Number`, as the
 * slow path does). Returns the position of the delimiter after it with the value in scratch[0], or
 * -1 when the fast path does not take it (no digits, a sign, space, any other byte).
 */
function readNumber(buf: Buffer, p: number): number {
  const fs = p;
  // The significant digits in two integers of up to 9 digits each (hi, then lo).
  let hi = 0;
  let lo = 0;
  let nSig = 0;
  let c = buf[p]!;
  while (c >= D0 && c <= D9) {
    if (nSig < 9) {
      hi = hi * 10 + (c - D0);
      if (hi !== 0) nSig++; // leading zeros are not significant
    } else {
      if (nSig < 18) lo = lo * 10 + (c - D0);
      nSig++;
    }
    c = buf[++p]!;
  }
  let frac = 0;
  if (c === DOT) {
    const f0 = ++p;
    c = buf[p]!;
    while (c >= D0 && c <= D9) {
      if (nSig < 9) {
        hi = hi * 10 + (c - D0);
        if (hi !== 0) nSig++;
      } else {
        if (nSig < 18) lo = lo * 10 + (c - D0);
        nSig++;
      }
      c = buf[++p]!;
    }
    frac = p - f0;
    if (p - fs === 1) return -1; // '.' alone
  } else if (p === fs) return -1; // no digits
  if (c === COMMA || c === NL || c === CR) {
    let v: number;
    if (nSig > 18 || frac > 22) v = Number(latin1(buf, fs, p));
    // Up to 15 digits: the integer and 10^frac are exact doubles, so one division rounds correctly.
    else if (nSig <= 15) {
      const m = nSig > 9 ? hi * POW10[nSig - 9]! + lo : hi;
      v = frac > 0 ? m / POW10[frac]! : m;
    } else {
      decimalInto(hi, POW10[nSig - 9]!, lo, frac, scratch);
      v = scratch[0]!;
      if (v !== v) v = Number(latin1(buf, fs, p));
    }
    scratch[0] = v;
    return p;
  }
  if (c !== LOWER_E && c !== UPPER_E) return -1;
  // An exponent: digits, signs and e's to the delimiter, read by Number (NaN if malformed).
  for (;;) {
    c = buf[++p]!;
    if (c === COMMA || c === NL || c === CR) break;
    if (!((c >= D0 && c <= D9) || c === PLUS || c === MINUS || c === LOWER_E || c === UPPER_E)) return -1;
  }
  scratch[0] = Number(latin1(buf, fs, p));
  return p;
}

/**
 * readNumber for a cell that is checked but whose value is not kept (FastRows.pricesOnly): it takes
 * and leaves the same cells, and puts in scratch[0] a stand-in that passes or fails the callers'
 * checks (positive, finite) as the value would: 1, or 0 for a zero. Plain digits only; a cell that
 * readNumber would give to Number (an exponent, over 18 significant or 22 decimal digits, where a
 * tiny value becomes 0 or a huge one Infinity) is read by readNumber itself.
 */
function checkNumber(buf: Buffer, p: number): number {
  const fs = p;
  // Significant digits, counted as readNumber counts them: from the first that is not 0.
  let nSig = 0;
  let c = buf[p]!;
  while (c >= D0 && c <= D9) {
    if (nSig > 0 || c !== D0) nSig++;
    c = buf[++p]!;
  }
  let frac = 0;
  if (c === DOT) {
    const f0 = ++p;
    c = buf[p]!;
    while (c >= D0 && c <= D9) {
      if (nSig > 0 || c !== D0) nSig++;
      c = buf[++p]!;
    }
    frac = p - f0;
    if (p - fs === 1) return -1; // '.' alone
  } else if (p === fs) return -1; // no digits
  if (c === COMMA || c === NL || c === CR) {
    if (nSig > 18 || frac > 22) return readNumber(buf, fs);
    scratch[0] = nSig > 0 ? 1 : 0;
    return p;
  }
  if (c !== LOWER_E && c !== UPPER_E) return -1;
  return readNumber(buf, fs);
}

const latin1 = (buf: Buffer, s: number, e: number): string => buf.toString('latin1', s, e);

/** Runs of rows read in place; its fields persist between runs (and the slow path resets lastTimeLen). */
export class FastRows {
  /** The role of each column (IGNORED, TIME, SYMBOL, NUM + k), from the header. */
  roles: Uint8Array = new Uint8Array(0);
  /** The last time cell read here, its length (-1: none, or the slow path read a time since) and value. */
  lastTimeBytes = new Uint8Array(64);
  lastTimeLen = -1;
  lastTime = 0;
  /** The symbol of the last row. */
  lastEntry: SymbolEntry | null = null;
  /** The line number of the last row read. */
  lineNo = 0;
  /** The row being read: [TIME] its time, [NUM + k] its numbers, [LAST_TIME] the last time cell's value. */
  private readonly row = new Float64Array(LAST_TIME + 1);

  /** The columns are those of docs/strategy.md in its order (time,symbol,open,high,low,close,volume): runCanonical reads them. */
  canonical = false;
  /** The builders keep time, open and close only: high, low and volume are checked (checkNumber), not read. */
  pricesOnly = false;

  /** `symbolAt` finds (or adds) the entry of a symbol the last row's guesses missed. */
  constructor(private readonly symbolAt: (buf: Buffer, s: number, e: number) => SymbolEntry) {}

  /**
   * Reads the complete rows of buf[s, limit) (limit just after a `\n`) until one it does not take;
   * returns where it stopped: limit, or the start of that row (lineNo is then the line before it).
   */
  run(buf: Buffer, s: number, limit: number): number {
    if (this.canonical) return this.runCanonical(buf, s, limit);
    const roles = this.roles;
    const last = roles.length - 1;
    const pricesOnly = this.pricesOnly;
    let lineNo = this.lineNo;
    let lastTimeLen = this.lastTimeLen;
    let lastTimeBytes = this.lastTimeBytes;
    let entry = this.lastEntry;
    // The row's values, and the last time read, in a typed array: doubles held in local variables
    // across this loop were boxed (a heap number each, ~75 bytes of garbage a row).
    const row = this.row;
    row[LAST_TIME] = this.lastTime;
    let rowStart = s;
    rows: while (rowStart < limit) {
      let p = rowStart;
      let c = buf[p]!;
      if (c === NL || c === CR) break; // a blank line
      let rowEntry: SymbolEntry | null = null;
      for (let col = 0; ; col++) {
        const role = roles[col]!;
        if (role >= NUM) {
          p = pricesOnly && (role === HIGH || role === LOW || role === VOLUME) ? checkNumber(buf, p) : readNumber(buf, p);
          if (p < 0) break rows;
          const v = scratch[0]!;
          // Zero where the column wants a positive number, or not a finite number: the slow path words the error.
          if (!((v > 0 && v < Infinity) || (v === 0 && role === VOLUME))) break rows;
          row[role] = v;
        } else {
          const fs = p;
          // The same time as the last row's (both legs' rows usually share it): its bytes, then a delimiter.
          if (role === TIME && lastTimeLen > 0) {
            const e = fs + lastTimeLen;
            c = buf[e]!;
            if (c === COMMA || c === NL || c === CR) {
              // From the end: two different times usually differ in their last digits.
              let k = lastTimeLen - 1;
              while (k >= 0 && lastTimeBytes[k] === buf[fs + k]) k--;
              if (k < 0) {
                row[TIME] = row[LAST_TIME]!;
                p = e;
              }
            }
          }
          if (p === fs) {
            c = buf[p]!;
            while (c !== COMMA && c !== NL && c !== CR) {
              if (c === QUOTE) break rows;
              c = buf[++p]!;
            }
            if (role === TIME) {
              // Only digits, '-', 'T', ':', '.' and 'Z' pass, so no space to trim.
              readTimeInto(buf, fs, p, scratch);
              const t = scratch[0]!;
              if (t !== t) break rows;
              const n = p - fs;
              if (n > lastTimeBytes.length) lastTimeBytes = this.lastTimeBytes = new Uint8Array(n * 2);
              for (let k = 0; k < n; k++) lastTimeBytes[k] = buf[fs + k]!;
              lastTimeLen = n;
              row[LAST_TIME] = t;
              row[TIME] = t;
            } else if (role === SYMBOL) {
              if (p === fs) break rows;
              // Rows usually cycle through the symbols in the same order: try the one that came next last time.
              const guess = entry === null ? null : entry.next;
              if (guess !== null && sameBytes(guess.bytes, buf, fs, p)) entry = guess;
              else if (entry === null || !sameBytes(entry.bytes, buf, fs, p)) {
                this.lastEntry = entry;
                entry = this.symbolAt(buf, fs, p);
              }
              if (!entry.trimmed) break rows;
              rowEntry = entry;
            }
          }
        }
        c = buf[p]!;
        if (c === COMMA) {
          if (col === last) break rows; // more fields than the header
          p++;
          continue;
        }
        // The line's end: `\n`, or `\r\n`.
        if (col !== last) break rows; // fewer fields than the header
        if (c === CR) {
          if (buf[p + 1] !== NL) break rows;
          p++;
        }
        p++;
        break;
      }
      lineNo++;
      // The row's numbers are in place: open..volume at NUM..VOLUME.
      rowEntry!.builder?.addRow(row, TIME, NUM, lineNo);
      rowStart = p;
    }
    this.lineNo = lineNo;
    this.lastTimeLen = lastTimeLen;
    this.lastTime = row[LAST_TIME]!;
    this.lastEntry = entry;
    return rowStart;
  }
  /**
   * run() for the header of docs/strategy.md in its order, the common case, written out column by
   * column: the same checks and values as run()'s loop over the columns' roles, without it. Its
   * state goes to the fields as it changes, not after the loop: V8 optimises the loop during the
   * first call, when code after it has run for no row yet, and such code undid the optimised loop
   * at the end of that call (in every reading thread).
   */
  private runCanonical(buf: Buffer, s: number, limit: number): number {
    let lineNo = this.lineNo;
    let lastTimeLen = this.lastTimeLen;
    let lastTimeBytes = this.lastTimeBytes;
    let entry = this.lastEntry;
    const row = this.row;
    row[LAST_TIME] = this.lastTime;
    const pricesOnly = this.pricesOnly;
    let rowStart = s;
    while (rowStart < limit) {
      let p = rowStart;
      let c = buf[p]!;
      if (c === NL || c === CR) break; // a blank line
      // time: the last row's (its bytes, then a comma), else read.
      if (lastTimeLen > 0 && buf[p + lastTimeLen] === COMMA) {
        let k = lastTimeLen - 1;
        while (k >= 0 && lastTimeBytes[k] === buf[p + k]) k--;
        if (k < 0) {
          row[TIME] = row[LAST_TIME]!;
          p += lastTimeLen;
        }
      }
      if (p === rowStart) {
        while (c !== COMMA && c !== NL && c !== CR) {
          if (c === QUOTE) break;
          c = buf[++p]!;
        }
        if (c !== COMMA) break; // a quote, or the line ends
        readTimeInto(buf, rowStart, p, scratch);
        const t = scratch[0]!;
        if (t !== t) break;
        const n = p - rowStart;
        if (n > lastTimeBytes.length) lastTimeBytes = this.lastTimeBytes = new Uint8Array(n * 2);
        for (let k = 0; k < n; k++) lastTimeBytes[k] = buf[rowStart + k]!;
        this.lastTimeLen = lastTimeLen = n;
        this.lastTime = t;
        row[LAST_TIME] = t;
        row[TIME] = t;
      }
      // symbol
      const fs = ++p;
      c = buf[p]!;
      while (c !== COMMA && c !== NL && c !== CR) {
        if (c === QUOTE) break;
        c = buf[++p]!;
      }
      if (c !== COMMA || p === fs) break;
      const guess = entry === null ? null : entry.next;
      if (guess !== null && sameBytes(guess.bytes, buf, fs, p)) entry = guess;
      else if (entry === null || !sameBytes(entry.bytes, buf, fs, p)) {
        this.lastEntry = entry;
        entry = this.symbolAt(buf, fs, p);
      }
      this.lastEntry = entry;
      if (!entry.trimmed) break;
      // open, high, low, close: positive, each followed by a comma.
      p = readNumber(buf, p + 1);
      if (p < 0 || buf[p] !== COMMA) break;
      const open = scratch[0]!;
      if (!(open > 0 && open < Infinity)) break;
      row[NUM] = open;
      p = pricesOnly ? checkNumber(buf, p + 1) : readNumber(buf, p + 1);
      if (p < 0 || buf[p] !== COMMA) break;
      const high = scratch[0]!;
      if (!(high > 0 && high < Infinity)) break;
      row[NUM + 1] = high;
      p = pricesOnly ? checkNumber(buf, p + 1) : readNumber(buf, p + 1);
      if (p < 0 || buf[p] !== COMMA) break;
      const low = scratch[0]!;
      if (!(low > 0 && low < Infinity)) break;
      row[NUM + 2] = low;
      p = readNumber(buf, p + 1);
      if (p < 0 || buf[p] !== COMMA) break;
      const close = scratch[0]!;
      if (!(close > 0 && close < Infinity)) break;
      row[NUM + 3] = close;
      // volume: zero or more, then the line's end (`\n` or `\r\n`).
      p = pricesOnly ? checkNumber(buf, p + 1) : readNumber(buf, p + 1);
      if (p < 0) break;
      const volume = scratch[0]!;
      if (!(volume >= 0 && volume < Infinity)) break;
      row[VOLUME] = volume;
      c = buf[p]!;
      if (c === CR) {
        if (buf[p + 1] !== NL) break;
        p++;
      } else if (c !== NL) break; // more fields than the header
      rowStart = p + 1;
      this.lineNo = ++lineNo;
      entry.builder?.addRow(row, TIME, NUM, lineNo);
    }
    return rowStart;
  }
}
