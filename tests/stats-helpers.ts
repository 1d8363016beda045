/** Shared helpers for the statistics tests: fixture loading and the statsmodels tolerance. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'stats');

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

/** Fixture numbers: JSON cannot hold ±inf, the generator writes them as strings. */
export type Num = number | 'inf' | '-inf' | 'nan';

export function num(v: Num): number {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  return v;
}

/** Agreement with statsmodels: within 1e-6 relative, or 1e-6·1e-3 absolute for values below 1e-3. */
export function close(actual: number, expected: number, rel = 1e-6): boolean {
  if (actual === expected) return true;
  if (!Number.isFinite(actual) || !Number.isFinite(expected)) return false;
  const diff = Math.abs(actual - expected);
  return diff <= rel * Math.max(Math.abs(expected), 1e-3);
}

export function expectClose(actual: number, expected: Num, what: string, rel = 1e-6): void {
  const e = num(expected);
  if (!close(actual, e, rel)) {
    throw new Error(`${what}: got ${actual}, statsmodels ${e} (diff ${Math.abs(actual - e)})`);
  }
}
