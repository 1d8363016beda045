/**
 * How tests start `tandem` as a process: the TypeScript sources through tsx's loader, so a test
 * always runs the code under test, never a stale dist/ build. The compiled CLI that users get is
 * tested from the packed tarball (tests/package.test.ts).
 */
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const TSX = import.meta.resolve('tsx');
const MAIN = resolve(ROOT, 'src', 'main.ts');

/** Node's argv for `tandem ...args` (spawn it with process.execPath), from any working directory. */
export function tandemArgv(args: string[]): string[] {
  return ['--import', TSX, MAIN, ...args];
}
