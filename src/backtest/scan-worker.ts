/**
 * A scan worker thread: analyses its share of the pairs over the shared closes and posts one
 * outcome per pair (the main thread counts them for the progress bar).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { analysePair, type CloseSeries } from './scan.ts';

const { series, pairs, lookback } = workerData as { series: CloseSeries[]; pairs: [number, number][]; lookback: number };
for (const [i, j] of pairs) parentPort!.postMessage(analysePair(series[i]!, series[j]!, lookback));
