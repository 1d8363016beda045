/**
 * A backtest's bars while its file is still being read. Reading a 1,000,000-bar file takes about
 * as long as backtesting it, and a machine has at least two cores: the file is cut into parts (a
 * CSV at line ends, a Parquet file at row groups), a thread per part reads it
 * (bar-stream-worker.ts, the same reading as the one-thread loaders) into columns in shared memory
 * and publishes how many bars it has after each chunk, and this thread aligns and backtests the
 * bars published so far, part after part, waiting (blocked, on the shared generation counter) when
 * it catches up.
 *
 * The bars come out exactly as `alignBars` over the loaded file gives them, or not at all:
 * - a symbol's rows out of time order within a part (or a second bar at a time), or a part whose
 *   first bar is not after the previous part's last, make `aligned` throw BarStreamRestart: the
 *   caller discards its run and runs again on `finish()`'s sorted series (a file that is not in time
 *   order gains nothing, and loses nothing but the discarded run);
 * - a malformed row ends its part; `finish()` throws the error a one-thread read reports (the
 *   file's first: the first part's as it is, a later CSV part's by reading the file again in one
 *   thread, since that part only knows its lines from its own start). Bars consumed before it are
 *   discarded with the run.
 *
 * Why blocking waits rather than events: the runners pull bars from an iterator in a synchronous
 * loop. Every reading thread therefore ends by setting a final state (done, failed, crashed), even
 * on a bug, so a wait never outlives it; `open` returns only once they all run our code.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import type { BarField, PairBar } from '../strategies/types.ts';
import { UserError, type UserErrorCode } from '../util/errors.ts';
import { startWorker } from '../util/worker-entry.ts';
import type { CsvRange } from './csv-read.ts';
import { finishBars, loadBarsCsv, openDataFile, type BarSeries } from './csv.ts';
import { emptyPairBar, fillPairBar, fillPairPrices } from './align.ts';
import { parquetRowGroups, startsAsParquet, startsAsParquetSync } from './parquet.ts';
import { SeriesBuilder, SharedSeriesBuilder, sharedColumns, type BarColumns, type SharedColumns } from './series-builder.ts';

/** Control words (Int32): word 0 is the generation (bumped at every publication); then a block per part. */
export const PART = { state: 0, unsorted: 1, kbRead: 2, counts: 3 } as const;
export const STATE = { starting: 0, running: 1, done: 2, failed: 3, crashed: 4 } as const;

/** What one thread reads: a CSV byte range, or a run of whole Parquet row groups (`bytes`: its share of the file, for progress). */
export type StreamPart = ({ kind: 'csv' } & CsvRange) | { kind: 'parquet'; rowStart: number; rowEnd: number; bytes: number };

/** A reading thread's last word, posted just before its final state. */
export type BarStreamMessage =
  | { done: { symbol: string; length: number; sorted: boolean }[]; lines: number }
  | { userError: string; code: string }
  | { crash: string };

export interface BarStreamWorkerData {
  file: string;
  symbols: string[];
  /** The part's columns of each symbol, by its index in `symbols`. */
  columns: SharedColumns[];
  control: SharedArrayBuffer;
  /** The part's first control word. */
  base: number;
  part: StreamPart;
  port: MessagePort;
  readChunkBytes: number | undefined;
  /** Store time, open and close only (BarStreamOptions.fields). */
  pricesOnly: boolean;
}

/** Thrown by `aligned` when the bars cannot come out in the loaded file's order: run again on `finish()`'s series. */
export class BarStreamRestart extends Error {
  override name = 'BarStreamRestart';
}

/**
 * Smaller files are read first, then backtested: the reading threads' start (0.06–0.2 s on a busy
 * 2-core machine) costs more than the overlap saves.
 */
export const STREAM_MIN_BYTES = 32 << 20;
/** Whether a backtest should read `file` while it runs: it is STREAM_MIN_BYTES or more (false when it cannot be read: the loader says why). */
export function largeBarFile(file: string): boolean {
  try {
    return statSync(file).size >= STREAM_MIN_BYTES;
  } catch {
    return false;
  }
}

/** Parts: one per core, at most this many (beyond, the disk and this thread's share bound the gain), none under MIN_PART_BYTES. */
const MAX_PARTS = 4;
const MIN_PART_BYTES = 16 << 20;
/**
 * The fewest bytes a CSV row takes (a time of at least 10 characters, a symbol, five one-digit
 * numbers, six commas and a line end), so that 1 + a part's bytes / MIN_ROW_BYTES bounds its bars:
 * the shared columns reserve that much address space, and use memory only as they fill.
 */
const MIN_ROW_BYTES = 23;
/** How far a line end is looked for after each cut of a CSV file; beyond that, fewer parts. */
const LOOK_BYTES = 1 << 16;
/** A wait longer than this without news means a reading thread is gone (each publishes every chunk). */
const STALL_MS = 120_000;

const WORKER_MODULE = new URL('./bar-stream-worker.ts', import.meta.url);

/**
 * Reading threads for a bar stream: one per core for a run that mostly waits for bars (the spec
 * runner), one per core but one for a run that keeps its own thread busy (the live node; at least
 * one), and never more than MAX_PARTS.
 */
function readingThreads(busyRun: boolean): number {
  return Math.max(1, Math.min(MAX_PARTS, availableParallelism() - (busyRun ? 1 : 0)));
}

/** The parts a file of `size` bytes is cut into (at least one): a reading thread each, none under MIN_PART_BYTES. */
function partsFor(size: number, busyRun: boolean): number {
  return Math.max(1, Math.min(readingThreads(busyRun), Math.floor(size / MIN_PART_BYTES)));
}

/**
 * Reading threads started ahead (prestartReaders), before the backtest knows its symbols: a thread
 * takes ~0.07–0.1 s to boot, which `open` would otherwise spend waiting for it. Each loads the
 * reading code, then waits for its part (a `{ job }` message). They are unref'd, so a command that
 * ends before reading (a config error) is not held open by them; one that exits is left out.
 */
const ahead: Worker[] = [];

/**
 * Starts the reading threads a stream of `file` will likely use (see readingThreads), if the file
 * is large enough to be streamed; `open` takes them, and ends those it does not need.
 */
export function prestartReaders(file: string, busyRun: boolean): void {
  let size: number;
  let format: 'csv' | 'parquet';
  try {
    size = statSync(file).size;
    format = startsAsParquetSync(file) ? 'parquet' : 'csv';
  } catch {
    return;
  }
  if (size >= STREAM_MIN_BYTES) startReadersAhead(partsFor(size, busyRun), format);
}

/**
 * Starts reading threads ahead until `count` wait (prestartReaders; tests), each loading the
 * reading code of `format` (the other loads on its part, if the guess was wrong).
 */
export function startReadersAhead(count: number, format: 'csv' | 'parquet' = 'csv'): void {
  while (ahead.length < count) {
    const worker = startWorker(WORKER_MODULE, { ahead: format });
    worker.unref();
    const drop = (): void => {
      const k = ahead.indexOf(worker);
      if (k >= 0) ahead.splice(k, 1);
    };
    // Also the 'error' listener: an error of a thread nobody took is no uncaught exception.
    worker.once('exit', drop);
    worker.once('error', drop);
    ahead.push(worker);
  }
}

/** The reading threads started ahead and not yet taken. */
export function readersAhead(): number {
  return ahead.length;
}

/** A thread reading `data`'s part: one started ahead if any is left, else a new one. */
function startReader(data: BarStreamWorkerData, port: MessagePort): Worker {
  const worker = ahead.shift();
  if (!worker) return startWorker(WORKER_MODULE, { ...data }, [port]);
  worker.ref();
  worker.postMessage({ job: data }, [port]);
  return worker;
}

export interface BarStreamOptions {
  /** Bytes read at a time (tests: small, so that the backtest catches up with the reading often). */
  readChunkBytes?: number;
  /** Reading threads (default: readingThreads(busyRun), fewer for a small file). Tests force several on small files. */
  parts?: number;
  /** The run keeps this thread busy (the live node): leave it a core. */
  busyRun?: boolean;
  /**
   * The bar fields the run reads (default: all). When they are open and close at most, only time,
   * open and close are stored: the other columns are still checked in the file, never written, and
   * the bars give NaN for them. That is half the columns' memory, whose first touch is most of what
   * storing costs (a page fault per 4 KB).
   */
  fields?: readonly BarField[];
}

/** Whether a run reading `fields` needs time, open and close only. */
function pricesOnlyFor(fields: readonly BarField[] | undefined): boolean {
  return fields !== undefined && fields.every((f) => f === 'open' || f === 'close');
}

/** One part: where its control block starts, its columns, its thread and the port of its last word. */
interface Part {
  base: number;
  columns: SharedColumns[];
  worker: Worker;
  port: MessagePort;
  message: BarStreamMessage | null;
}

export class BarStream {
  private starting: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    readonly size: number,
    private readonly format: 'csv' | 'parquet',
    private readonly symbols: readonly string[],
    private readonly parts: Part[],
    private readonly ctl: Int32Array,
    private readonly pricesOnly: boolean,
  ) {}

  /**
   * Starts reading `file` (CSV or Parquet), keeping `symbols`; a missing file is the loaders'
   * UserError. A RangeError when the address space for the columns cannot be reserved (read the
   * file first then).
   */
  static async open(file: string, symbols: readonly string[], opts: BarStreamOptions = {}): Promise<BarStream> {
    const stream = await BarStream.start(file, symbols, opts);
    await stream.ready();
    return stream;
  }

  /**
   * `open` without waiting for the threads to run: the caller does its own setup meanwhile, then
   * awaits `ready()` before it takes a bar.
   */
  static async start(file: string, symbols: readonly string[], opts: BarStreamOptions = {}): Promise<BarStream> {
    const { fh, size } = await openDataFile(file);
    let specs: StreamPart[];
    let format: 'csv' | 'parquet';
    try {
      const want = Math.max(1, opts.parts ?? partsFor(size, opts.busyRun ?? false));
      format = (await startsAsParquet(fh)) ? 'parquet' : 'csv';
      specs = format === 'parquet' ? parquetParts(await parquetRowGroups(file), size, want) : await csvParts(fh, size, want);
    } finally {
      await fh.close();
    }
    const words = PART.counts + symbols.length;
    const control = new SharedArrayBuffer(4 * (1 + specs.length * words));
    const ctl = new Int32Array(control);
    const pricesOnly = pricesOnlyFor(opts.fields);
    // Every part's columns reserved before any thread starts (a RangeError leaves none running).
    const columnsOf = specs.map((spec) => {
      const maxBars = 1 + (spec.kind === 'csv' ? Math.floor((spec.end - spec.start) / MIN_ROW_BYTES) : spec.rowEnd - spec.rowStart);
      return symbols.map(() => sharedColumns(maxBars));
    });
    const parts: Part[] = specs.map((spec, p) => {
      const columns = columnsOf[p]!;
      const base = 1 + p * words;
      const { port1, port2 } = new MessageChannel();
      const data: BarStreamWorkerData = { file, symbols: [...symbols], columns, control, base, part: spec, port: port2, readChunkBytes: opts.readChunkBytes, pricesOnly };
      const worker = startReader(data, port2);
      return { base, columns, worker, port: port1, message: null };
    });
    // Threads started ahead and not needed (a file cut in fewer parts than guessed).
    for (const w of ahead.splice(0)) void w.terminate();
    const stream = new BarStream(file, size, format, symbols, parts, ctl, pricesOnly);
    // The threads' 'error' and 'exit' are listened to from here on (started() attaches at once).
    stream.starting = stream.started().then(
      () => {
        // From here on a thread reports through its state; an 'error' event must not become an
        // uncaught exception. (The threads keep the process open until they end: finish() waits for them.)
        for (const part of parts) part.worker.on('error', () => {});
      },
      async (err: unknown) => {
        await stream.close();
        throw err;
      },
    );
    // Awaited by ready(); until then a failure is no unhandled rejection.
    stream.starting.catch(() => {});
    return stream;
  }

  /** Resolves once every reading thread runs our code (before it, no bar may be taken); rejects, the threads ended, if one fails to start. */
  ready(): Promise<void> {
    return this.starting;
  }

  /** Bytes of the file read so far (to the KB while reading). */
  get bytesRead(): number {
    let kb = 0;
    let done = true;
    for (const part of this.parts) {
      kb += Atomics.load(this.ctl, part.base + PART.kbRead);
      done &&= Atomics.load(this.ctl, part.base + PART.state) === STATE.done;
    }
    return done ? this.size : Math.min(this.size, kb * 1024);
  }

  /**
   * The aligned bars of ySym and xSym (both among the symbols given to `open`), as alignBars gives
   * them from the loaded file, given as they are read; `counter.n` counts them. Throws
   * BarStreamRestart (see the file's head), or the first part's error.
   *
   * `reuse` (a run that keeps no bar for long: RUN_BARS_KEPT): the bars are that many objects,
   * filled again in turn, so a bar's object is refilled `reuse` bars later. A million bars made
   * three million objects and six million boxed numbers otherwise, most of a run's garbage.
   */
  aligned(ySym: string, xSym: string, counter: { n: number } = { n: 0 }, reuse = 0): IterableIterator<PairBar> {
    const ky = this.slot(ySym);
    const kx = this.slot(xSym);
    const last = this.parts.length - 1;
    // Columns not stored are not read either (their pages would be mapped to read zeros): their
    // fields stay the NaN of an empty bar.
    const fill = this.pricesOnly ? fillPairPrices : fillPairBar;
    // The bars' objects when reused; else a new one a bar.
    const ring = Array.from({ length: reuse }, emptyPairBar);
    let nextInRing = 0;
    let [py, i, lastY] = [0, 0, -Infinity];
    let [px, j, lastX] = [0, 0, -Infinity];
    let [ny, nx, yDone, xDone] = [0, 0, false, false];
    let y: BarColumns | null = null;
    let x: BarColumns | null = null;
    let gen = 0;
    let ended = false;
    // An iterator rather than a generator: no generator frame resumed and no result object made a
    // bar (the same result object is filled at each step; a consumer reads it before the next).
    const result: IteratorResult<PairBar> = { done: false, value: undefined as unknown as PairBar };
    const DONE: IteratorResult<PairBar> = { done: true, value: undefined };
    /** Reads what the parts published: each side past the parts it has finished, its bars so far. */
    const refresh = (): void => {
      gen = Atomics.load(this.ctl, 0);
      this.check();
      // A part's state is read before its count.
      yDone = this.done(py);
      ny = this.count(py, ky);
      while (i >= ny && yDone && py < last) {
        if (ny > 0) lastY = this.bars(py, ky, ny).time[ny - 1]!;
        [py, i] = [py + 1, 0];
        yDone = this.done(py);
        ny = this.count(py, ky);
      }
      xDone = this.done(px);
      nx = this.count(px, kx);
      while (j >= nx && xDone && px < last) {
        if (nx > 0) lastX = this.bars(px, kx, nx).time[nx - 1]!;
        [px, j] = [px + 1, 0];
        xDone = this.done(px);
        nx = this.count(px, kx);
      }
      y = this.bars(py, ky, ny);
      x = this.bars(px, kx, nx);
      // A part's first bar must come after the previous part's last.
      if ((i === 0 && ny > 0 && !(y.time[0]! > lastY)) || (j === 0 && nx > 0 && !(x.time[0]! > lastX))) {
        throw new BarStreamRestart(`${this.file}: rows not in time order across parts`);
      }
    };
    const next = (): IteratorResult<PairBar> => {
      if (ended) return DONE;
      try {
        if (y === null) refresh();
        for (;;) {
          const yt = y!.time;
          const xt = x!.time;
          while (i < ny && j < nx) {
            const ty = yt[i]!;
            const tx = xt[j]!;
            if (ty === tx) {
              counter.n++;
              let bar: PairBar;
              if (reuse > 0) {
                bar = ring[nextInRing]!;
                nextInRing = nextInRing + 1 === reuse ? 0 : nextInRing + 1;
              } else bar = emptyPairBar();
              fill(bar, ty, y!, i, x!, j);
              result.value = bar;
              i++;
              j++;
              return result;
            } else if (ty < tx) i++;
            else j++;
          }
          // One side has no more bars at all: the join is complete.
          if ((i >= ny && yDone && py === last) || (j >= nx && xDone && px === last)) {
            ended = true;
            return DONE;
          }
          // A side that finished its part moves on without waiting; else wait for more bars.
          if (!((i >= ny && yDone) || (j >= nx && xDone))) this.waitPast(gen);
          refresh();
        }
      } catch (err) {
        ended = true;
        throw err;
      }
    };
    const it: IterableIterator<PairBar> = {
      next,
      return: (): IteratorResult<PairBar> => {
        ended = true;
        return DONE;
      },
      [Symbol.iterator]: () => it,
    };
    return it;
  }

  /**
   * Once every part is read: the file's bars, or the UserError a one-thread read of it throws.
   */
  async finish(): Promise<StreamedBars> {
    for (;;) {
      const gen = Atomics.load(this.ctl, 0);
      if (this.parts.every((_, p) => Atomics.load(this.ctl, this.parts[p]!.base + PART.state) >= STATE.done)) break;
      const wait = Atomics.waitAsync(this.ctl, 0, gen, STALL_MS);
      if (wait.async && (await wait.value) === 'timed-out') throw new Error(`the reading threads of ${this.file} published nothing for ${STALL_MS / 1000} s`);
    }
    const messages = this.parts.map((_, p) => this.messageOf(p));
    const crash = messages.find((m) => 'crash' in m);
    if (crash && 'crash' in crash) throw new Error(`a reading thread of ${this.file} failed: ${crash.crash}`);
    const failed = messages.findIndex((m) => 'userError' in m);
    if (failed > 0 && this.format === 'csv') {
      // A later part counts its lines from its own start: the one-thread read names the true line.
      await loadBarsCsv(this.file, { symbols: this.symbols });
    }
    if (failed >= 0) throw this.failure(failed);
    return new StreamedBars(this.file, this.format, this.symbols, this.parts, messages as Extract<BarStreamMessage, { done: unknown }>[], this.pricesOnly);
  }

  /** Stops the reading threads (a run that ends early, or a stream that failed to start). */
  async close(): Promise<void> {
    await Promise.all(this.parts.map((part) => part.worker.terminate()));
  }

  /** Resolves once every thread runs our code (from then on it always sets a final state); rejects if one fails to start. */
  private started(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const listeners = this.parts.map((part) => {
        const onError = (err: Error): void => settle(err);
        // A thread that ran our code has set its state (a small part may be read, and its thread gone, already).
        const onExit = (code: number): void => {
          if (Atomics.load(this.ctl, part.base + PART.state) === STATE.starting) settle(new Error(`a reading thread of ${this.file} stopped (exit code ${code}) before it started`));
        };
        part.worker.once('error', onError);
        part.worker.once('exit', onExit);
        return { part, onError, onExit };
      });
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        for (const l of listeners) {
          l.part.worker.off('error', l.onError);
          l.part.worker.off('exit', l.onExit);
        }
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (settled) return;
        const gen = Atomics.load(this.ctl, 0);
        if (this.parts.every((part) => Atomics.load(this.ctl, part.base + PART.state) !== STATE.starting)) return settle();
        const wait = Atomics.waitAsync(this.ctl, 0, gen);
        void (wait.async ? wait.value : Promise.resolve()).then(check);
      };
      check();
    });
  }

  private slot(symbol: string): number {
    const k = this.symbols.indexOf(symbol);
    if (k < 0) throw new Error(`${symbol} is not among the symbols this bar stream keeps`);
    return k;
  }

  private done(p: number): boolean {
    return Atomics.load(this.ctl, this.parts[p]!.base + PART.state) === STATE.done;
  }

  private count(p: number, k: number): number {
    return Atomics.load(this.ctl, this.parts[p]!.base + PART.counts + k);
  }

  /** A symbol's bars in part p, as views of the published length n. */
  private bars(p: number, k: number, n: number): BarColumns {
    const c = this.parts[p]!.columns[k]!;
    return {
      time: new Float64Array(c.time, 0, n),
      open: new Float64Array(c.open, 0, n),
      high: new Float64Array(c.high, 0, n),
      low: new Float64Array(c.low, 0, n),
      close: new Float64Array(c.close, 0, n),
      volume: new Float64Array(c.volume, 0, n),
    };
  }

  /** Throws if the bars cannot go on: a part crashed or failed (the first part's error as it is), or rows out of order. */
  private check(): void {
    for (let p = 0; p < this.parts.length; p++) {
      const base = this.parts[p]!.base;
      const state = Atomics.load(this.ctl, base + PART.state);
      if (state === STATE.crashed || (state === STATE.failed && p === 0)) throw this.failure(p);
      if (state === STATE.failed) throw new BarStreamRestart(`${this.file}: a later part of the file failed`);
      if (Atomics.load(this.ctl, base + PART.unsorted) !== 0) throw new BarStreamRestart(`${this.file}: rows not in time order`);
    }
  }

  /** Blocks until the generation moves past `gen`; throws when the reading threads have gone silent. */
  private waitPast(gen: number): void {
    const since = Date.now();
    while (Atomics.wait(this.ctl, 0, gen, 1000) === 'timed-out') {
      if (Date.now() - since > STALL_MS) throw new Error(`the reading threads of ${this.file} published nothing for ${STALL_MS / 1000} s`);
    }
  }

  /** Part p's last word (read once; only after its final state). */
  private messageOf(p: number): BarStreamMessage {
    const part = this.parts[p]!;
    if (!part.message) {
      const got = receiveMessageOnPort(part.port)?.message as BarStreamMessage | undefined;
      part.port.close();
      part.message = got ?? { crash: 'it ended without its result' };
    }
    return part.message;
  }

  private failure(p: number): Error {
    const m = this.messageOf(p);
    if ('userError' in m) return new UserError(m.userError, m.code as UserErrorCode);
    return new Error(`a reading thread of ${this.file} failed: ${'crash' in m ? m.crash : 'no reason given'}`);
  }
}

/** The file's bars once every part is read. */
export class StreamedBars {
  /** Whether every symbol's bars came in ascending time through all parts: `aligned` then gave the loaded file's bars. */
  readonly sorted: boolean;
  private readonly present = new Set<string>();
  private readonly builders: SharedSeriesBuilder[][];

  constructor(
    private readonly file: string,
    private readonly format: 'csv' | 'parquet',
    symbols: readonly string[],
    private readonly parts: Part[],
    private readonly messages: Extract<BarStreamMessage, { done: unknown }>[],
    pricesOnly: boolean,
  ) {
    this.builders = messages.map((m, p) => m.done.map((d) => new SharedSeriesBuilder(d.symbol, parts[p]!.columns[symbols.indexOf(d.symbol)]!, d.length, d.sorted, pricesOnly)));
    let sorted = true;
    const lastTime = new Map<string, number>();
    for (const list of this.builders) {
      for (const b of list) {
        if (b.length === 0) continue;
        this.present.add(b.symbol);
        sorted &&= b.sorted && b.time[0]! > (lastTime.get(b.symbol) ?? -Infinity);
        lastTime.set(b.symbol, b.time[b.length - 1]!);
      }
    }
    this.sorted = sorted;
  }

  /** Whether the file has rows of `symbol`. */
  has(symbol: string): boolean {
    return this.present.has(symbol);
  }

  /**
   * Every kept symbol's series as the one-thread loader gives them: sorted, and a second bar at a
   * time reported with its lines (a CSV part's lines shifted by those of the parts before it). A
   * symbol read by one part keeps that part's columns; others are copied into one.
   */
  async series(): Promise<Map<string, BarSeries>> {
    const whole = new Map<string, SeriesBuilder>();
    let lineOffset = 0;
    this.builders.forEach((list, p) => {
      for (const b of list) {
        const into = whole.get(b.symbol);
        if (!into) whole.set(b.symbol, lineOffset === 0 ? b : copyOf(b, lineOffset));
        else {
          const merged = into instanceof SharedSeriesBuilder ? copyOf(into, 0) : into;
          merged.append(b, lineOffset);
          whole.set(b.symbol, merged);
        }
      }
      // Parquet rows are numbered in the whole file already.
      if (this.format === 'csv') lineOffset += this.messages[p]!.lines;
    });
    if (this.format === 'csv') return finishBars(this.file, whole);
    const { finishParquetBars } = await import('./parquet.ts');
    return finishParquetBars(this.file, whole);
  }
}

/** A builder's bars in a builder of its own, lines shifted by `lineOffset`. */
function copyOf(b: SeriesBuilder, lineOffset: number): SeriesBuilder {
  const c = new SeriesBuilder(b.symbol);
  c.pricesOnly = b.pricesOnly;
  c.append(b, lineOffset);
  return c;
}

/** The first `\n` at or after `from` (looking LOOK_BYTES ahead), or -1. */
async function lineEndFrom(fh: FileHandle, from: number, buf: Buffer): Promise<number> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, from);
  const k = buf.subarray(0, bytesRead).indexOf(10);
  return k < 0 ? -1 : from + k;
}

/**
 * A CSV file cut into `want` parts of about equal bytes, each after the first starting just after a
 * line end; one part when the header's line or a line end near a cut is not found (a file of very
 * long lines), or the file is too small to cut.
 */
async function csvParts(fh: FileHandle, size: number, want: number): Promise<StreamPart[]> {
  const whole: StreamPart[] = [{ kind: 'csv', start: 0, end: size, headerEnd: 0 }];
  if (want < 2) return whole;
  const buf = Buffer.allocUnsafe(LOOK_BYTES);
  // The header's line: the first that is not blank (blank lines before it are allowed).
  const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
  let headerEnd = -1;
  for (let s = 0; s < bytesRead; ) {
    const nl = buf.indexOf(10, s);
    if (nl < 0 || nl >= bytesRead) break;
    if (buf.toString('utf8', s, nl).replace(/^\uFEFF/, '').trim() !== '') {
      headerEnd = nl + 1;
      break;
    }
    s = nl + 1;
  }
  if (headerEnd < 0) return whole;
  const cuts = [0];
  for (let k = 1; k < want; k++) {
    const nominal = headerEnd + Math.round((k * (size - headerEnd)) / want);
    const nl = await lineEndFrom(fh, nominal - 1, buf);
    if (nl < 0) return whole;
    if (nl + 1 > Math.max(headerEnd, cuts[cuts.length - 1]!) && nl + 1 < size) cuts.push(nl + 1);
  }
  cuts.push(size);
  return cuts.slice(0, -1).map((start, k) => ({ kind: 'csv', start, end: cuts[k + 1]!, headerEnd }));
}

/** A Parquet file's row groups in `want` runs of about equal rows. */
function parquetParts(table: { rows: number; groups: { rowStart: number; rowEnd: number }[] }, size: number, want: number): StreamPart[] {
  const parts: StreamPart[] = [];
  let start = 0;
  for (const g of table.groups) {
    const target = (table.rows * (parts.length + 1)) / want;
    if (g.rowEnd >= target || g === table.groups[table.groups.length - 1]) {
      parts.push({ kind: 'parquet', rowStart: start, rowEnd: g.rowEnd, bytes: (size * (g.rowEnd - start)) / Math.max(1, table.rows) });
      start = g.rowEnd;
    }
  }
  return parts.length ? parts : [{ kind: 'parquet', rowStart: 0, rowEnd: 0, bytes: size }];
}
