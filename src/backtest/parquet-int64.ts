/**
 * INT64 values of a Parquet column as numbers: timestamps in their unit as epoch ms, or plain
 * integers (unit MILLIS: the value itself), exactly as Number of the BigInt gives them, without a
 * BigInt a row. Shared by parquet.ts (hyparquet's raw integers) and parquet-pages.ts (its own).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Milliseconds in a unit of an INT64 time column. */
const UNIT_MS = { MILLIS: 1, MICROS: 1000, NANOS: 1_000_000 } as const;
export type TimeUnit = keyof typeof UNIT_MS;

/**
 * INT64 times (in `unit`) as epoch ms into `into` from `offset`: what Number(v / unit) gives, with
 * BigInt division's truncation. Read as two 32-bit words a value (no BigInt a row) where the
 * double arithmetic is exact, |v| < 2^53; BigInt otherwise.
 */
export function int64Times(data: BigInt64Array, unit: TimeUnit, into: Float64Array, offset: number, count: number): void {
  const words = LITTLE_ENDIAN ? new Int32Array(data.buffer, data.byteOffset, data.length * 2) : null;
  const per = UNIT_MS[unit];
  const big = BigInt(per);
  for (let i = 0; i < count; i++) {
    if (words !== null) {
      const hi = words[2 * i + 1]!;
      if (hi < 0x200000 && hi >= -0x200000) {
        const v = hi * 4294967296 + (words[2 * i]! >>> 0);
        into[offset + i] = per === 1 ? v : Math.trunc(v / per) + 0; // + 0: -0 as 0, as BigInt division gives
        continue;
      }
    }
    into[offset + i] = per === 1 ? Number(data[i]!) : Number(data[i]! / big);
  }
}
