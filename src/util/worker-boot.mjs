// Entry of a worker thread started from the TypeScript sources (see worker-entry.ts). Plain
// JavaScript on purpose: on Node 20 a worker does not inherit the main thread's tsx loader
// (`execArgv: ['--import', 'tsx']` does not apply to the worker's own entry), so the worker loads its
// TypeScript module, named in its workerData, through tsx's scoped import API.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.tsModule, import.meta.url);
