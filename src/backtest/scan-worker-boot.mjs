// Entry of a scan worker thread. Plain JavaScript on purpose: on Node 20 a worker does not inherit
// the main thread's tsx loader (`execArgv: ['--import', 'tsx']` does not apply to the worker's own
// entry), so the worker loads its TypeScript through tsx's scoped import API, resolved from here.
import { tsImport } from 'tsx/esm/api';

await tsImport('./scan-worker.ts', import.meta.url);
