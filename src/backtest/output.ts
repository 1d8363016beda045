/**
 * The backtest's JSON output (docs/strategy.md, "Backtest output"), exactly the spec's keys and
 * exactly the text JSON.stringify would make, written as a stream of 1 MB byte chunks so a curve of
 * millions of points never becomes one giant string.
 *
 * Why bytes: a 1,000,000-bar result is ~75 MB of text. Built as strings (one per point, then
 * encoded for the file) it cost ~1 s and most of the run's garbage; here the trades, fills and
 * curve are formatted straight into a reused Buffer (times digit by digit with the day's prefix
 * reused, numbers by String), and the file is written by two alternating buffers, one filled while
 * the other is written.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { BacktestResult } from './runner.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

/** Years 0000-9999: `toISOString` prints others with a sign and six digits. */
const inFourDigitYears = (ms: number): boolean => ms >= -62_167_219_200_000 && ms < 253_402_300_800_000;

const CHUNK_BYTES = 1 << 20;
/**
 * Room kept free for the ASCII written between two checks (a row's keys, numbers and times, or the
 * part of a row after a string); strings are checked on their own and leave this much room too.
 */
const SLACK = 512;
const QUOTE = 34;
const D0 = 48;

/**
 * `"<ISO time>"` as JSON.stringify writes toISOString(), as bytes: within years 0000-9999 the day's
 * prefix (made once a day: bars come in time order), then `HH:MM:SS` from a table made once per
 * second of the day met (bars repeat the same few hundred times of day), then the milliseconds;
 * other years from the string.
 */
class IsoTimeBytes {
  private day = NaN;
  private readonly prefix = new Uint8Array(11);
  /** `HH:MM:SS` of each second of the day, 8 bytes each, made when first met (`made`). */
  private readonly clock = new Uint8Array(86_400 * 8);
  private readonly made = new Uint8Array(86_400);

  /** The time at b[p] (at most 30 bytes); returns where it ends. */
  write(b: Uint8Array, p: number, ms: number): number {
    const d = Math.floor(ms / 86_400_000);
    if (d !== this.day) {
      if (!inFourDigitYears(ms)) {
        const text = `"${iso(ms)}"`;
        for (let k = 0; k < text.length; k++) b[p + k] = text.charCodeAt(k);
        return p + text.length;
      }
      this.day = d;
      const text = iso(d * 86_400_000);
      for (let k = 0; k < 11; k++) this.prefix[k] = text.charCodeAt(k);
    }
    b[p++] = QUOTE;
    const prefix = this.prefix;
    for (let k = 0; k < 11; k++) b[p + k] = prefix[k]!;
    p += 11;
    const rest = ms - d * 86_400_000;
    const sec = Math.floor(rest / 1000);
    const milli = rest - sec * 1000;
    if (this.made[sec] === 0) this.makeClock(sec);
    const clock = this.clock;
    const at = sec * 8;
    for (let k = 0; k < 8; k++) b[p + k] = clock[at + k]!;
    b[p + 8] = 46; // '.'
    b[p + 9] = D0 + Math.floor(milli / 100);
    b[p + 10] = D0 + (Math.floor(milli / 10) % 10);
    b[p + 11] = D0 + (milli % 10);
    b[p + 12] = 90; // 'Z'
    b[p + 13] = QUOTE;
    return p + 14;
  }

  private makeClock(sec: number): void {
    const h = Math.floor(sec / 3600);
    const m = Math.floor((sec - h * 3600) / 60);
    const s = sec - h * 3600 - m * 60;
    const c = this.clock;
    const at = sec * 8;
    c[at] = D0 + Math.floor(h / 10);
    c[at + 1] = D0 + (h % 10);
    c[at + 2] = 58; // ':'
    c[at + 3] = D0 + Math.floor(m / 10);
    c[at + 4] = D0 + (m % 10);
    c[at + 5] = 58;
    c[at + 6] = D0 + Math.floor(s / 10);
    c[at + 7] = D0 + (s % 10);
    this.made[sec] = 1;
  }
}

/**
 * A chunk of output being filled. Two of them alternate: `fill` yields the full one and goes on
 * with the other, so the consumer may still be writing the first while the second fills.
 */
class ByteChunks {
  private readonly bufs = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  private which = 0;
  buf = this.bufs[0]!;
  pos = 0;
  private readonly times = new IsoTimeBytes();

  /** The filled part, to be yielded; the next writes go to the other buffer. */
  take(): Buffer {
    const full = this.buf.subarray(0, this.pos);
    this.which ^= 1;
    this.buf = this.bufs[this.which]!;
    this.pos = 0;
    return full;
  }

  get full(): boolean {
    return this.pos > CHUNK_BYTES - SLACK;
  }

  /** ASCII text (keys, punctuation, numbers), at most SLACK bytes. */
  ascii(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let k = 0; k < s.length; k++) b[p++] = s.charCodeAt(k);
    this.pos = p;
  }

  /** A number as JSON.stringify writes it. */
  num(v: number): void {
    this.ascii(Number.isFinite(v) ? String(v) : 'null');
  }

  /** `"<ISO time>"` as JSON.stringify writes toISOString(). */
  time(ms: number): void {
    this.pos = this.times.write(this.buf, this.pos, ms);
  }
}

/** Any JSON text: written in place if it fits, else as chunks of its own (yielded by the caller). */
function* text(out: ByteChunks, s: string): Generator<Buffer> {
  const bytes = Buffer.byteLength(s);
  if (bytes + SLACK > CHUNK_BYTES - out.pos) {
    yield out.take();
    if (bytes + SLACK > CHUNK_BYTES) {
      yield Buffer.from(s);
      return;
    }
  }
  out.pos += out.buf.write(s, out.pos);
}

/**
 * The result's JSON as byte chunks. Each chunk is a view of a buffer that is filled again two
 * chunks later: a consumer must have finished with a chunk before asking for the next but one.
 */
export function* backtestJsonBuffers(r: BacktestResult): Generator<Buffer> {
  const out = new ByteChunks();
  // The small part, in the spec's key order, by JSON.stringify itself (it drops undefined keys).
  const small = JSON.stringify({ startingCash: r.startingCash, finalEquity: r.finalEquity, metrics: r.metrics, diagnostics: r.diagnostics });
  yield* text(out, small.slice(0, -1) + ',"trades":[');
  for (let i = 0; i < r.trades.length; i++) {
    const t = r.trades[i]!;
    if (out.full) yield out.take();
    out.ascii(i ? ',{"side":' : '{"side":');
    yield* text(out, JSON.stringify(t.side));
    out.ascii(',"entryTime":');
    out.time(t.entryTime);
    out.ascii(',"exitTime":');
    if (t.exitTime === null) out.ascii('null');
    else out.time(t.exitTime);
    out.ascii(',"exitReason":');
    yield* text(out, JSON.stringify(t.exitReason));
    out.ascii(',"qtyY":');
    out.num(t.qtyY);
    out.ascii(',"qtyX":');
    out.num(t.qtyX);
    out.ascii(',"pnl":');
    out.num(t.pnl);
    out.ascii('}');
  }
  if (out.full) yield out.take();
  out.ascii('],"fills":[');
  for (let i = 0; i < r.fills.length; i++) {
    const f = r.fills[i]!;
    if (out.full) yield out.take();
    out.ascii(i ? ',{"time":' : '{"time":');
    out.time(f.time);
    out.ascii(',"symbol":');
    yield* text(out, JSON.stringify(f.symbol));
    out.ascii(',"side":');
    yield* text(out, JSON.stringify(f.side));
    out.ascii(',"qty":');
    out.num(f.qty);
    out.ascii(',"price":');
    out.num(f.price);
    out.ascii(',"commission":');
    out.num(f.commission);
    out.ascii('}');
  }
  if (out.full) yield out.take();
  out.ascii('],"equity":[');
  yield* equityRows(out, r.equity.time, r.equity.equity);
  if (out.full) yield out.take();
  out.ascii(']}\n');
  yield out.take();
}

const COMMA = 44;
/** `{"time":` and `,"equity":` as bytes. */
const TIME_KEY = Uint8Array.from('{"time":', (c) => c.charCodeAt(0));
const EQUITY_KEY = Uint8Array.from(',"equity":', (c) => c.charCodeAt(0));

/**
 * The equity curve's rows, `{"time":"<ISO>","equity":<number>}` each: a million of them are most of
 * the file, so they are written with the chunk's buffer and position in locals, the fixed text
 * copied from bytes, and the equity's text made once per change of value (it stays the same while
 * no position is held).
 */
function* equityRows(out: ByteChunks, time: Float64Array, equity: Float64Array): Generator<Buffer> {
  const limit = CHUNK_BYTES - SLACK;
  const times = new IsoTimeBytes();
  const value = new Uint8Array(32);
  let valueLen = 0;
  let lastValue = NaN;
  let b = out.buf;
  let p = out.pos;
  for (let i = 0; i < time.length; i++) {
    if (p > limit) {
      out.pos = p;
      yield out.take();
      b = out.buf;
      p = out.pos;
    }
    if (i > 0) b[p++] = COMMA;
    for (let k = 0; k < 8; k++) b[p + k] = TIME_KEY[k]!;
    p = times.write(b, p + 8, time[i]!);
    for (let k = 0; k < 10; k++) b[p + k] = EQUITY_KEY[k]!;
    p += 10;
    const v = equity[i]!;
    if (!(v === lastValue)) {
      lastValue = v;
      const text = Number.isFinite(v) ? String(v) : 'null';
      valueLen = text.length;
      for (let k = 0; k < valueLen; k++) value[k] = text.charCodeAt(k);
    }
    for (let k = 0; k < valueLen; k++) b[p + k] = value[k]!;
    p += valueLen;
    b[p++] = 125; // '}'
  }
  out.pos = p;
}

/** The whole output as one string (small results, tests). */
export function backtestJson(r: BacktestResult): string {
  const copies: Buffer[] = [];
  for (const chunk of backtestJsonBuffers(r)) copies.push(Buffer.from(chunk)); // a copy now: the chunk's buffer is filled again
  return Buffer.concat(copies).toString('utf8');
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let done = 0; done < chunk.length; ) done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
}

/** Writes the result's JSON to `file`, one chunk written while the next is formatted. */
export async function writeBacktestJson(r: BacktestResult, file: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    let pending: Promise<unknown> | null = null;
    for (const chunk of backtestJsonBuffers(r)) {
      if (pending) await pending;
      pending = writeAll(fh, chunk);
    }
    if (pending) await pending;
  } finally {
    await fh.close();
  }
}
