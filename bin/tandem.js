#!/usr/bin/env node
// The `tandem` command: runs the JavaScript that `npm run build` (tools/build.mjs) bundled into
// dist/ (`npm ci`, `npm install` and `npm pack` build it through the `prepare` script). It never
// loads tsx: compiling TypeScript at every start cost seconds. From a clone, `npm start -- ...` runs
// the sources through tsx instead, with no build step.
import module from 'node:module';

// Node 22+: keep V8's compiled code of the modules between runs (in the OS temp directory), which
// roughly halves the start-up of a command that loads zod, yaml and the config schemas.
module.enableCompileCache?.();

try {
  await import('../dist/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('error: the compiled CLI (dist/) is missing. Fix: run `npm run build` in the Tandem directory (npm ci does it too).\n');
    process.exitCode = 2;
  } else {
    throw err;
  }
}
