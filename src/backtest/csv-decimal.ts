/**
 * Exact decimal-to-double for the CSV loader's fast path (csv.ts), without making a string.
 *
 * Why: bar files written by programs often carry prices with 16–17 significant digits (a double
 * printed in full, e.g. 147.55476633659552). Their digits no longer fit a double exactly, so the
 * simple reading (digits / 10^frac, exact up to 2^53) does not apply, and `Number(text)` on a
 * substring costs a string and a general parser per cell. Here the digits are held exactly as the
 * sum of two doubles, divided by 10^frac in double-double arithmetic, and rounded once. When the
 * value lies too close to the halfway point between two doubles to decide (about one number in a
 * million), or anything is outside the ranges proven here, the answer is NaN and the caller reads
 * the text with `Number` instead. So a result is always bit-identical to `Number(text)`.
 */

/** 10^0 … 10^22: every one exactly a double. */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Dekker's splitter for double-length products without a fused multiply-add: 2^27 + 1. */
const SPLITTER = 134217729;

/** The high and low halves (26 bits each) of 10^k, Dekker-split once. */
const P_HI = POW10.map((v) => {
  const t = SPLITTER * v;
  return t - (t - v);
});
const P_LO = POW10.map((v, k) => v - P_HI[k]!);

/** The rounding error of a * b, b given as its split halves, whose rounded product is p (exact; Dekker's TwoProduct). */
function productError(a: number, bHi: number, bLo: number, p: number): number {
  const t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  return aHi * bHi - p + aHi * bLo + aLo * bHi + aLo * bLo;
}

// The bits of a double, to find its unit in the last place.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE ? 1 : 0;
const LO = LITTLE ? 0 : 1;
/** How close to halfway (relative to half an ulp) counts as undecided: far above the error bound (~2^-49). */
const MARGIN = 1 - 2 ** -20;

/**
 * The double nearest to (hi * scale + lo) / 10^frac, or NaN when it cannot be decided here.
 *
 * hi < 10^9 and lo < scale are integers, scale = 10^k with k <= 9 (hi holds the first 9
 * significant digits, lo the next k), and frac <= 22 (digits after the decimal point). For
 * hi * scale + lo < 2^53 the caller uses the one-division reading instead; this is for 16 to 18
 * significant digits.
 */
export function decimalToDouble(hi: number, scale: number, lo: number, frac: number): number {
  decimalInto(hi, scale, lo, frac, result);
  return result[0]!;
}

const result = new Float64Array(1);

/**
 * decimalToDouble, the answer written to out[0]: a call that returns a double that V8 did not
 * inline allocates a heap number for it, and the CSV loader reads millions of them.
 */
export function decimalInto(hi: number, scale: number, lo: number, frac: number, out: Float64Array): void {
  // The integer M = hi * scale + lo exactly, as mHi + mLo. hi * scale is exact: hi < 2^30 and
  // scale = 2^k * 5^k with 5^k < 2^21. Its sum with lo is split into the rounded sum and the
  // (integer, exactly held) rounding error.
  const p = hi * scale;
  const mHi = p + lo; // the correctly rounded M
  if (frac === 0) {
    out[0] = mHi;
    return;
  }
  const bv = mHi - p;
  const mLo = p - (mHi - bv) + (lo - bv);
  // M / 10^frac as q + d: q the rounded quotient, d the rest, from the exact remainder's first 53 bits.
  const P = POW10[frac]!;
  const q = mHi / P;
  const qp = q * P;
  const rem = mHi - qp - productError(q, P_HI[frac]!, P_LO[frac]!, qp) + mLo; // mHi - qp is exact (Sterbenz)
  const d = rem / P;
  const c = q + d;
  const err = d - (c - q); // exactly q + d - c, since |q| > |d|
  f64[0] = c;
  const hiWord = u32[HI]!;
  const exponent = (hiWord >>> 20) & 0x7ff;
  // A power of two has a smaller ulp below it; subnormals, infinities: let Number decide.
  if ((u32[LO] === 0 && (hiWord & 0xfffff) === 0) || exponent <= 54 || exponent === 0x7ff) {
    out[0] = NaN;
    return;
  }
  u32[HI] = (exponent - 53) << 20; // half an ulp of c: 2^(exponent - 1076)
  u32[LO] = 0;
  const halfUlp = f64[0];
  out[0] = Math.abs(err) < halfUlp * MARGIN ? c : NaN;
}
