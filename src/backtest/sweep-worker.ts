/**
 * A sweep worker thread: runs its share of the (grid point, window) tasks over the shared bar
 * columns and posts one outcome per task (the main thread counts them for the progress bar).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runWindow, type PairColumns, type RunSettings, type RunTask } from './sweep-run.ts';

const { columns, tasks, settings } = workerData as { columns: PairColumns; tasks: RunTask[]; settings: RunSettings };
for (const t of tasks) parentPort!.postMessage(runWindow(columns, t, settings));
