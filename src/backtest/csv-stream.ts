/**
 * A backtest's bars while its CSV file is still being read. Reading a 1,000,000-bar file takes
 * about as long as backtesting it, and a machine has at least two cores: another thread reads the
 * file (csv-stream-worker.ts, the same reading as `loadBarsCsv`) into columns in shared memory and
 * publishes how many bars it has after each 4 MB chunk, while this thread aligns and backtests the
 * bars published so far, waiting (blocked, on the shared generation counter) when it catches up.
 *
 * The bars come out exactly as `alignBars` over the finished file gives them, or not at all:
 * - rows out of time order (or a second bar at a time) raise the `unsorted` flag, and `aligned`
 *   throws BarStreamRestart: the caller discards its run and runs again on `finish()`'s sorted bars
 *   (a file that is not in time order gains nothing, and loses nothing but the discarded run);
 * - a malformed row ends the reading, and `aligned` and `finish()` throw the same UserError, with
 *   the file:line:col a one-thread read gives; bars consumed before it are discarded with the run.
 *
 * Why blocking waits rather than events: the runners pull bars from an iterator in a synchronous
 * loop. The reading thread therefore always ends by setting a final state (done, failed, crashed),
 * even on a bug, so a wait never outlives it; `open` returns only once the thread runs our code.
 */
import { receiveMessageOnPort, MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { PairBar } from '../strategies/types.ts';
import { UserError, type UserErrorCode } from '../util/errors.ts';
import { startWorker } from '../util/worker-entry.ts';
import { finishBars, openDataFile, type BarSeries } from './csv.ts';
import { SharedSeriesBuilder, sharedColumns, type SharedColumns } from './series-builder.ts';

/** The shared control words (Int32): what changed last, the reading's state, and each symbol's bars so far. */
export const CTL = { generation: 0, state: 1, unsorted: 2, kbRead: 3, counts: 4 } as const;
export const STATE = { starting: 0, running: 1, done: 2, failed: 3, crashed: 4 } as const;

/** The reading thread's last word, posted just before its final state. */
export type BarStreamMessage =
  | { done: { symbol: string; length: number; sorted: boolean }[] }
  | { userError: string; code: string }
  | { crash: string };

export interface BarStreamWorkerData {
  file: string;
  symbols: string[];
  /** Each symbol's columns, by its index in `symbols`. */
  columns: SharedColumns[];
  control: SharedArrayBuffer;
  port: MessagePort;
  readChunkBytes: number | undefined;
}

/** Thrown by `aligned` when the file's rows are not in time order: run again on `finish()`'s bars. */
export class BarStreamRestart extends Error {
  override name = 'BarStreamRestart';
}

/**
 * Smaller files are read first, then backtested: the reading thread's start (0.06–0.2 s on a busy
 * 2-core machine) costs more than the overlap saves.
 */
export const STREAM_MIN_BYTES = 32 << 20;

/**
 * Fewer bytes than any row takes (at least a 10-character date, five one-digit numbers, a symbol,
 * six commas and a line end: 23), so that size / MIN_ROW_BYTES bounds the bars of a symbol.
 */
const MIN_ROW_BYTES = 16;

/** A wait longer than this without news means the reading thread is gone (it publishes every chunk). */
const STALL_MS = 120_000;

const WORKER_MODULE = new URL('./csv-stream-worker.ts', import.meta.url);

export interface BarStreamOptions {
  /** Bytes read at a time (tests: small, so that the backtest catches up with the reading often). */
  readChunkBytes?: number;
}

export class BarStream {
  private outcome: { series: Map<string, BarSeries> } | { error: Error } | null = null;

  private constructor(
    readonly file: string,
    readonly size: number,
    private readonly symbols: readonly string[],
    private readonly columns: SharedColumns[],
    private readonly ctl: Int32Array,
    private readonly port: MessagePort,
    private readonly worker: Worker,
  ) {}

  /** Starts reading `file`, keeping `symbols`; a missing file is the UserError loadBarsCsv gives. */
  static async open(file: string, symbols: readonly string[], opts: BarStreamOptions = {}): Promise<BarStream> {
    const { fh, size } = await openDataFile(file);
    await fh.close();
    const maxBars = Math.floor(size / MIN_ROW_BYTES) + 1;
    const columns = symbols.map(() => sharedColumns(maxBars));
    const control = new SharedArrayBuffer(4 * (CTL.counts + symbols.length));
    const ctl = new Int32Array(control);
    const { port1, port2 } = new MessageChannel();
    const data: BarStreamWorkerData = { file, symbols: [...symbols], columns, control, port: port2, readChunkBytes: opts.readChunkBytes };
    const worker = startWorker(WORKER_MODULE, { ...data }, [port2]);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      const onExit = (code: number): void => reject(new Error(`the CSV reading thread stopped (exit code ${code}) before it started`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      const started = Atomics.waitAsync(ctl, CTL.generation, 0);
      void (started.async ? started.value : Promise.resolve()).then(() => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve();
      });
    });
    // From here on the thread reports through its state; an 'error' event must not become an uncaught exception.
    worker.on('error', () => {});
    worker.unref();
    return new BarStream(file, size, symbols, columns, ctl, port1, worker);
  }

  /** Bytes of the file read so far (to the KB while reading). */
  get bytesRead(): number {
    if (Atomics.load(this.ctl, CTL.state) === STATE.done) return this.size;
    return Math.min(this.size, Atomics.load(this.ctl, CTL.kbRead) * 1024);
  }

  /**
   * The aligned bars of ySym and xSym (both among the symbols given to `open`), as alignBars gives
   * them from the finished file, yielded as they are read. Throws BarStreamRestart (rows out of time
   * order) or the file's error.
   */
  *aligned(ySym: string, xSym: string): Generator<PairBar> {
    const ky = this.slot(ySym);
    const kx = this.slot(xSym);
    let i = 0;
    let j = 0;
    for (;;) {
      // In this order: the reading thread stores counts, the flag, then the state, then the generation.
      const gen = Atomics.load(this.ctl, CTL.generation);
      const state = Atomics.load(this.ctl, CTL.state);
      if (state === STATE.failed || state === STATE.crashed) throw this.failure();
      if (Atomics.load(this.ctl, CTL.unsorted) !== 0) throw new BarStreamRestart(`${this.file}: rows not in time order`);
      const ny = Atomics.load(this.ctl, CTL.counts + ky);
      const nx = Atomics.load(this.ctl, CTL.counts + kx);
      const y = this.columns[ky]!;
      const x = this.columns[kx]!;
      const yt = new Float64Array(y.time, 0, ny);
      const yo = new Float64Array(y.open, 0, ny);
      const yh = new Float64Array(y.high, 0, ny);
      const yl = new Float64Array(y.low, 0, ny);
      const yc = new Float64Array(y.close, 0, ny);
      const yv = new Float64Array(y.volume, 0, ny);
      const xt = new Float64Array(x.time, 0, nx);
      const xo = new Float64Array(x.open, 0, nx);
      const xh = new Float64Array(x.high, 0, nx);
      const xl = new Float64Array(x.low, 0, nx);
      const xc = new Float64Array(x.close, 0, nx);
      const xv = new Float64Array(x.volume, 0, nx);
      while (i < ny && j < nx) {
        const ty = yt[i]!;
        const tx = xt[j]!;
        if (ty === tx) {
          yield {
            time: ty,
            y: { open: yo[i]!, high: yh[i]!, low: yl[i]!, close: yc[i]!, volume: yv[i]! },
            x: { open: xo[j]!, high: xh[j]!, low: xl[j]!, close: xc[j]!, volume: xv[j]! },
          };
          i++;
          j++;
        } else if (ty < tx) i++;
        else j++;
      }
      if (state === STATE.done) return;
      this.waitPast(gen);
    }
  }

  /**
   * Every kept symbol's bars once the whole file is read, sorted, as loadBarsCsv gives them (a
   * symbol without rows is absent). Throws the file's UserError, as loadBarsCsv would.
   */
  finish(): Map<string, BarSeries> {
    for (;;) {
      const gen = Atomics.load(this.ctl, CTL.generation);
      if (Atomics.load(this.ctl, CTL.state) >= STATE.done) break;
      this.waitPast(gen);
    }
    const outcome = this.settle();
    if ('error' in outcome) throw outcome.error;
    return outcome.series;
  }

  /** Stops the reading thread (when a run ends early on an error of its own). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private slot(symbol: string): number {
    const k = this.symbols.indexOf(symbol);
    if (k < 0) throw new Error(`${symbol} is not among the symbols this bar stream keeps`);
    return k;
  }

  /** Blocks until the generation moves past `gen`; throws when the reading thread has gone silent. */
  private waitPast(gen: number): void {
    const since = Date.now();
    while (Atomics.wait(this.ctl, CTL.generation, gen, 1000) === 'timed-out') {
      if (Date.now() - since > STALL_MS) throw new Error(`the CSV reading thread of ${this.file} published nothing for ${STALL_MS / 1000} s`);
    }
  }

  private failure(): Error {
    const outcome = this.settle();
    return 'error' in outcome ? outcome.error : new Error('the CSV reading thread failed');
  }

  /** The reading's outcome from its last message (read once; called only after a final state). */
  private settle(): { series: Map<string, BarSeries> } | { error: Error } {
    if (this.outcome) return this.outcome;
    const got = receiveMessageOnPort(this.port)?.message as BarStreamMessage | undefined;
    this.port.close();
    if (!got) this.outcome = { error: new Error(`the CSV reading thread of ${this.file} ended without its result`) };
    else if ('userError' in got) this.outcome = { error: new UserError(got.userError, got.code as UserErrorCode) };
    else if ('crash' in got) this.outcome = { error: new Error(`the CSV reading thread of ${this.file} failed: ${got.crash}`) };
    else {
      const builders = new Map(got.done.map((d) => [d.symbol, new SharedSeriesBuilder(d.symbol, this.columns[this.slot(d.symbol)]!, d.length, d.sorted)]));
      try {
        this.outcome = { series: finishBars(this.file, builders) };
      } catch (err) {
        this.outcome = { error: err as Error };
      }
    }
    return this.outcome;
  }
}
