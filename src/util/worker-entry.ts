/**
 * Starts a worker thread on one of our modules, compiled or not. From dist/ the worker runs the
 * module's own JavaScript; from the sources (tests, `npm start`, run through tsx) it runs
 * worker-boot.mjs, which loads the TypeScript module through tsx. `moduleUrl` is the module's URL
 * as its caller names it (`new URL('./x-worker.ts', import.meta.url)` works for both: the `.ts` is
 * swapped for `.js` when the caller itself is compiled). So a worker module lives beside the module
 * that starts it in src/, and the build (tools/build.mjs) makes it an entry of its own, named so,
 * at the top of dist/ where every chunk sits.
 */
import { Worker, type Transferable } from 'node:worker_threads';

const BOOT = new URL('./worker-boot.mjs', import.meta.url);

/** `transferList`: what workerData moves rather than copies (a MessagePort must be). */
export function startWorker(moduleUrl: URL, workerData: Record<string, unknown>, transferList: Transferable[] = []): Worker {
  if (import.meta.url.endsWith('.ts')) return new Worker(BOOT, { workerData: { ...workerData, tsModule: moduleUrl.href }, transferList });
  return new Worker(new URL(moduleUrl.href.replace(/\.ts$/, '.js')), { workerData, transferList });
}
