/**
 * Deterministic randomness: integer hashing (no state) so any value of the simulated market can be
 * computed from (seed, key, index) alone, plus a small seeded PRNG for things that only need a
 * reproducible sequence (fault draws, order ids).
 */

/** 32-bit avalanche mix (murmur3 finaliser). */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of up to four 32-bit integers into one unsigned 32-bit integer. */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = fmix((a ^ 0x9e3779b9) >>> 0);
  h = fmix((h ^ Math.imul(b | 0, 0xcc9e2d51)) >>> 0);
  h = fmix((h ^ Math.imul(c | 0, 0x1b873593)) >>> 0);
  h = fmix((h ^ Math.imul(d | 0, 0xe6546b64)) >>> 0);
  return h;
}

/** Stable 32-bit hash of a string (FNV-1a then mixed). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix(h >>> 0);
}

/** Uniform in (0, 1) from a hash. */
export function unit(h: number): number {
  return (h + 0.5) / 4294967296;
}

/** Standard normal deviate, a pure function of its four integer inputs (Box-Muller). */
export function gauss4(a: number, b: number, c: number, d: number): number {
  const u1 = unit(hash4(a, b, c, d));
  const u2 = unit(hash4(a ^ 0x5bd1e995, b, c, d ^ 0x27d4eb2d));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Small seeded PRNG (mulberry32) for reproducible sequences. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = hash4(seed, 0x1234, 0, 0) || 1;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, maxExclusive: number): number {
    return min + Math.floor(this.next() * (maxExclusive - min));
  }
}
