/**
 * The thread that reads a backtest's CSV file while the backtest runs (csv-stream.ts): the same
 * reading as `loadBarsCsv` (csv-read.ts), its columns in the shared memory it was given, published
 * after each chunk. It always ends by setting a final state, so the main thread, which may be
 * waiting on it without an event loop, is never left waiting.
 */
import { open } from 'node:fs/promises';
import { workerData } from 'node:worker_threads';
import { UserError } from '../util/errors.ts';
import { readCsvRows } from './csv-read.ts';
import { CTL, STATE, type BarStreamMessage, type BarStreamWorkerData } from './csv-stream.ts';
import { SharedSeriesBuilder } from './series-builder.ts';

const { file, symbols, columns, control, port, readChunkBytes } = workerData as BarStreamWorkerData;
const ctl = new Int32Array(control);
const slotOf = new Map(symbols.map((s, k) => [s, k]));
const builders: SharedSeriesBuilder[] = [];
let unsorted = false;

/** The bars read so far, to the main thread: counts first, then the generation it waits on. */
function publish(bytesRead: number, state?: number): void {
  for (const b of builders) Atomics.store(ctl, CTL.counts + slotOf.get(b.symbol)!, b.length);
  if (!unsorted && builders.some((b) => !b.sorted)) {
    unsorted = true;
    Atomics.store(ctl, CTL.unsorted, 1);
  }
  Atomics.store(ctl, CTL.kbRead, Math.floor(bytesRead / 1024));
  if (state !== undefined) Atomics.store(ctl, CTL.state, state);
  Atomics.add(ctl, CTL.generation, 1);
  Atomics.notify(ctl, CTL.generation);
}

let message: BarStreamMessage;
let state: number = STATE.crashed;
let size = 0;
// Running our code from here on: every way out sets a final state.
publish(0, STATE.running);
try {
  const fh = await open(file, 'r');
  try {
    size = (await fh.stat()).size;
    await readCsvRows(file, fh, size, {
      symbols,
      readChunkBytes,
      newBuilder: (symbol) => {
        const b = new SharedSeriesBuilder(symbol, columns[slotOf.get(symbol)!]!);
        builders.push(b);
        return b;
      },
      onChunk: (bytesRead) => publish(bytesRead),
    });
  } finally {
    await fh.close();
  }
  message = { done: builders.map((b) => ({ symbol: b.symbol, length: b.length, sorted: b.sorted })) };
  state = STATE.done;
} catch (err) {
  if (err instanceof UserError) {
    message = { userError: err.message, code: err.code };
    state = STATE.failed;
  } else message = { crash: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}
// The message first: the main thread reads it as soon as it sees the final state.
port.postMessage(message);
publish(size, state);
port.close();
