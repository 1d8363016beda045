/**
 * A thread that reads one part of a backtest's bar file while the backtest runs (bar-stream.ts):
 * a CSV part (a byte range cut at line ends; csv-read.ts) or a Parquet part (a run of row groups;
 * parquet.ts), read as the one-thread loaders read them, into the part's columns in shared memory,
 * published after each chunk or row group. It always ends by setting a final state, so the main
 * thread, which may be waiting on it without an event loop, is never left waiting.
 */
import { open } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.ts';
import { PART, STATE, type BarStreamMessage, type BarStreamWorkerData } from './bar-stream.ts';
import { SharedSeriesBuilder } from './series-builder.ts';

/** A thread started ahead (bar-stream.ts's prestartReaders) loads the reading of the file's format, then waits for its part. */
async function job(): Promise<BarStreamWorkerData> {
  const ahead = (workerData as { ahead?: 'csv' | 'parquet' }).ahead;
  if (!ahead) return workerData as BarStreamWorkerData;
  if (ahead === 'parquet') await Promise.all([import('./parquet.ts'), import('./parquet-pages.ts'), import('hyparquet')]);
  else await import('./csv-read.ts');
  return new Promise((resolve) => parentPort!.once('message', (m: { job: BarStreamWorkerData }) => resolve(m.job)));
}

const { file, symbols, columns, control, base, part, port, readChunkBytes, pricesOnly } = await job();
const ctl = new Int32Array(control);
const slotOf = new Map(symbols.map((s, k) => [s, k]));
const builders: SharedSeriesBuilder[] = [];
let unsorted = false;

/** The part's bars so far, to the main thread: counts, the flag, progress, state, then the generation it waits on. */
function publish(kbRead: number, state?: number): void {
  for (const b of builders) Atomics.store(ctl, base + PART.counts + slotOf.get(b.symbol)!, b.length);
  if (!unsorted && builders.some((b) => !b.sorted)) {
    unsorted = true;
    Atomics.store(ctl, base + PART.unsorted, 1);
  }
  Atomics.store(ctl, base + PART.kbRead, kbRead);
  if (state !== undefined) Atomics.store(ctl, base + PART.state, state);
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

const newBuilder = (symbol: string): SharedSeriesBuilder => {
  const b = new SharedSeriesBuilder(symbol, columns[slotOf.get(symbol)!]!, 0, true, pricesOnly);
  builders.push(b);
  return b;
};

let message: BarStreamMessage;
let state: number = STATE.crashed;
let kb = 0;
// Running our code from here on: every way out sets a final state.
publish(0, STATE.running);
try {
  const fh = await open(file, 'r');
  let lines = 0;
  try {
    const size = (await fh.stat()).size;
    if (part.kind === 'csv') {
      const rows = await import('./csv-read.ts');
      lines = (await rows.readCsvRows(file, fh, size, { symbols, readChunkBytes, newBuilder, pricesOnly, range: part, onChunk: (bytes) => publish((kb = Math.floor(bytes / 1024))) })).lines;
      kb = Math.floor((part.end - part.start) / 1024);
    } else {
      const { readParquetRows } = await import('./parquet.ts');
      const kbPerRow = part.bytes / 1024 / Math.max(1, part.rowEnd - part.rowStart);
      await readParquetRows(file, fh, size, { symbols, newBuilder, rowStart: part.rowStart, rowEnd: part.rowEnd, onRows: (rows) => publish((kb = Math.floor(rows * kbPerRow))) });
    }
  } finally {
    await fh.close();
  }
  message = { done: builders.map((b) => ({ symbol: b.symbol, length: b.length, sorted: b.sorted })), lines };
  state = STATE.done;
} catch (err) {
  if (err instanceof UserError) {
    message = { userError: err.message, code: err.code };
    state = STATE.failed;
  } else message = { crash: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
// The message first: the main thread reads it as soon as it sees the final state.
port.postMessage(message);
publish(kb, state);
port.close();
