// Builds the `tandem` command's JavaScript into dist/ (`npm run build`; `npm ci`, `npm install` and
// `npm pack` run it through the `prepare` script). esbuild bundles the TypeScript sources from
// src/main.ts and the worker threads' entry modules, split into chunks that load when a command
// needs them, with zod, yaml and commander inside: loading ~150 separate modules (zod alone is ~100
// files) cost ~50 ms at every start. Every other dependency stays an import of node_modules (pino,
// fastify, playwright-core and the others load files of their own, or load only for one command).
// Types are checked by `npm run typecheck` (tsc), not here.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The dependencies bundled into dist/; any other bare import stays external. */
const BUNDLED = new Set(['zod', 'yaml', 'commander']);

const root = dirname(dirname(fileURLToPath(import.meta.url)));
rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // Flat names: a module starts a worker with new URL('./x-worker.ts', import.meta.url) (util/worker-entry.ts),
  // which finds dist/x-worker.js from any chunk of dist/.
  entryPoints: {
    main: 'src/main.ts',
    'bar-stream-worker': 'src/backtest/bar-stream-worker.ts',
    'scan-worker': 'src/backtest/scan-worker.ts',
    'sweep-worker': 'src/backtest/sweep-worker.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  chunkNames: '[name]-[hash]',
  // Bundled CommonJS (commander) requires Node's modules: give the chunks a `require`.
  banner: { js: "import { createRequire as __tandemRequire } from 'node:module'; const require = __tandemRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [
    {
      // zod's `locales` namespace (z.locales: 60-odd translations of its error messages, ~0.3 MB of
      // the bundle) is never used: its English messages come from locales/en.js, imported apart.
      name: 'no-zod-locales',
      setup(b) {
        b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes('/node_modules/zod/') ? { path: 'zod-locales', namespace: 'tandem-empty' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'tandem-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
      },
    },
    {
      name: 'external-dependencies',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
          if (!BUNDLED.has(name)) return { path: args.path, external: true };
          // esbuild gives a dynamically imported CommonJS package (yaml, commander) as its default
          // export only: `const { stringify } = await import('yaml')` would get undefined.
          if (args.kind === 'dynamic-import') {
            return { errors: [{ text: `${args.importer}: import '${args.path}' statically (a bundled package's dynamic import loses its named exports)` }] };
          }
          return undefined;
        });
      },
    },
  ],
});
