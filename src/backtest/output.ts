/**
 * The backtest's JSON output (docs/strategy.md, "Backtest output"), exactly the spec's keys and
 * exactly the text JSON.stringify would make, written as a stream of 1 MB byte chunks so a curve of
 * millions of points never becomes one giant string.
 *
 * Why bytes: a 1,000,000-bar result is ~75 MB of text. Built as strings (one per point, then
 * encoded for the file) it cost ~1 s and most of the run's garbage; here the trades, fills and
 * curve are formatted straight into a reused Buffer (times digit by digit with the day's prefix
 * reused, numbers by String, the curve's rows as 32-bit words: json-rows.ts), and the file is
 * written by two alternating buffers, one filled while the other is written.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CHUNK_BYTES, EquityRows, IsoTimeBytes, SLACK } from './json-rows.ts';
import type { BacktestResult } from './runner.ts';

/**
 * A chunk of output being filled. Two of them alternate: `fill` yields the full one and goes on
 * with the other, so the consumer may still be writing the first while the second fills.
 */
class ByteChunks {
  private readonly bufs = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  private readonly views = this.bufs.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
  private which = 0;
  buf = this.bufs[0]!;
  /** buf as a DataView (the equity rows store 32-bit words). */
  view = this.views[0]!;
  pos = 0;
  private readonly times = new IsoTimeBytes();
  /** ByteChunks.short's strings, as their JSON's bytes. */
  private readonly strings = new Map<string, Uint8Array>();

  /** The filled part, to be yielded; the next writes go to the other buffer. */
  take(): Buffer {
    const full = this.buf.subarray(0, this.pos);
    this.which ^= 1;
    this.buf = this.bufs[this.which]!;
    this.view = this.views[this.which]!;
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

  /**
   * A short string (SHORT_STRING characters at most: its JSON fits the slack) as JSON.stringify
   * writes it, its bytes made once: trades and fills repeat the same few sides, reasons and symbols.
   * False, nothing written, for a longer one (the caller writes it with `text`).
   */
  short(s: string): boolean {
    if (s.length > SHORT_STRING) return false;
    let bytes = this.strings.get(s);
    if (bytes === undefined) {
      bytes = Buffer.from(JSON.stringify(s));
      if (this.strings.size < 1024) this.strings.set(s, bytes);
    }
    const b = this.buf;
    const p = this.pos;
    for (let k = 0; k < bytes.length; k++) b[p + k] = bytes[k]!;
    this.pos = p + bytes.length;
    return true;
  }
}

/** Strings this long at most are written by ByteChunks.short: 64 characters are 386 bytes of JSON at most (< SLACK). */
const SHORT_STRING = 64;

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
    if (!out.short(t.side)) yield* text(out, JSON.stringify(t.side));
    out.ascii(',"entryTime":');
    out.time(t.entryTime);
    out.ascii(',"exitTime":');
    if (t.exitTime === null) out.ascii('null');
    else out.time(t.exitTime);
    out.ascii(',"exitReason":');
    if (t.exitReason === null) out.ascii('null');
    else if (!out.short(t.exitReason)) yield* text(out, JSON.stringify(t.exitReason));
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
    if (!out.short(f.symbol)) yield* text(out, JSON.stringify(f.symbol));
    out.ascii(',"side":');
    if (!out.short(f.side)) yield* text(out, JSON.stringify(f.side));
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

/** The curve's rows, written in place of the chunks (json-rows.ts). */
function* equityRows(out: ByteChunks, time: Float64Array, equity: Float64Array): Generator<Buffer> {
  const limit = CHUNK_BYTES - SLACK;
  const rows = new EquityRows(time, equity);
  for (;;) {
    out.pos = rows.fill(out.buf, out.view, out.pos, limit);
    if (rows.done) return;
    yield out.take();
  }
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
