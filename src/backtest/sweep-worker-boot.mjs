// Entry of a sweep worker thread: plain JavaScript that loads the TypeScript worker through tsx's
// scoped import API, for the reason given in scan-worker-boot.mjs.
import { tsImport } from 'tsx/esm/api';

await tsImport('./sweep-worker.ts', import.meta.url);
