/** Input checks shared by the statistics routines: each failure is a StatsError saying what is wrong. */
import { StatsError } from './errors.ts';

/** Copy `values` into a Float64Array, rejecting NaN and infinities (naming the first bad index). */
export function toFinite(values: ArrayLike<number>, what: string): Float64Array {
  if (values == null || typeof values.length !== 'number') {
    throw new StatsError('invalid-argument', `${what}: expected an array of numbers`);
  }
  const n = values.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new StatsError(
        'non-finite',
        `${what}: value at index ${i} is ${String(v)}; every value must be a finite number (drop or fill missing bars first)`,
      );
    }
    out[i] = v;
  }
  return out;
}

export function sameLength(a: { length: number }, b: { length: number }, whatA: string, whatB: string): void {
  if (a.length !== b.length) {
    throw new StatsError(
      'length-mismatch',
      `${whatA} has ${a.length} values but ${whatB} has ${b.length}; the series must be aligned to the same times`,
    );
  }
}

export function minLength(x: { length: number }, min: number, what: string, why: string): void {
  if (x.length < min) {
    throw new StatsError('too-few-observations', `${what} has ${x.length} values; ${why} needs at least ${min}`);
  }
}

/** Throws if every value equals the first one. */
export function notConstant(x: Float64Array, what: string): void {
  const n = x.length;
  if (n === 0) return;
  const v0 = x[0] as number;
  for (let i = 1; i < n; i++) if (x[i] !== v0) return;
  throw new StatsError('constant-series', `${what} is constant (every value is ${v0}); it carries no information to test`);
}

export function nonNegativeInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new StatsError('invalid-argument', `${what} must be a non-negative integer, got ${String(v)}`);
  }
}
