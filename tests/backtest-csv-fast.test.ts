/**
 * The CSV loader's byte-level fast path against its string reading: the same rows written plain
 * (read in place from bytes) and with every cell quoted (quotes send each row to the string
 * reading) must load to exactly the same numbers, or fail on the same line. Rows mix the common
 * forms with the odd ones (offsets, exponents, spaces, long decimals, leading zeros, CRLF, blank
 * lines, bad values), and the file is larger than a read chunk so rows straddle chunk ends.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBarsCsv, parseTime, type BarSeries } from '../src/backtest/csv.ts';
import { readTime } from '../src/backtest/csv-bytes.ts';
import { rng } from './helpers/pair-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-csv-fast-'));

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function timeCell(r: () => number, t: number): string {
  const iso = new Date(t).toISOString();
  return pick(r, [
    iso,
    iso.replace('.000Z', 'Z'),
    iso.replace('.000Z', ''),
    iso.replace(/:00\.000Z$/, 'Z'),
    String(t),
    iso.replace('T', ' '),
    iso.replace('Z', '+00:00'),
    iso.slice(0, 10),
    iso.toLowerCase(),
  ]);
}

function numberCell(r: () => number, ok: boolean): string {
  const v = 0.1 + r() * 500;
  if (!ok) return pick(r, ['abc', '', '-1', '0', '1e400', ' ']);
  return pick(r, [v.toFixed(2), String(v), v.toExponential(3), `0${v.toFixed(4)}`, ` ${v.toFixed(1)} `, String(Math.round(v) + 1), `${Math.round(v) + 1}.`, v.toPrecision(16), v.toPrecision(18), '.5']);
}

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

async function outcome(f: string, readChunkBytes: number): Promise<Map<string, BarSeries> | string> {
  try {
    return await loadBarsCsv(f, { readChunkBytes });
  } catch (err) {
    // The line and reason of the error (not the column: quotes shift it).
    return (err as Error).message.replace(f, 'FILE').replace(/^FILE:(\d+):\d+:(.*)/s, 'line $1 $2');
  }
}

describe('csv fast path', () => {
  it('loads exactly what the string reading loads, over many odd and common rows', async () => {
    let loaded = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      const bad = seed % 2 === 0; // every other file has one bad row somewhere
      const rows: string[][] = [];
      let t = Date.UTC(2024, 0, 2, 14, 30);
      const n = 30_000;
      const badAt = Math.floor(r() * n);
      for (let i = 0; i < n; i++) {
        if (r() < 0.7) t += 60_000;
        const sym = pick(r, ['A', 'BB', 'CCC', 'ÄÖ']);
        const okRow = !(bad && i === badAt);
        rows.push([timeCell(r, t) + (!okRow && r() < 0.3 ? 'x' : ''), sym, numberCell(r, true), numberCell(r, true), numberCell(r, okRow), numberCell(r, true), pick(r, ['0', '10', '2500.5'])]);
      }
      // Duplicate (time, symbol) pairs are errors: keep the first of each.
      const seen = new Set<string>();
      const unique = rows.filter((row) => {
        const key = `${String(parseTime(row[0]!.trim()))}|${row[1]}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      const eols = unique.map(() => (r() < 0.05 ? '\r\n' : r() < 0.01 ? '\n\n' : '\n'));
      const plain = 'time,symbol,open,high,low,close,volume\n' + unique.map((row, i) => row.join(',') + eols[i]).join('');
      const quoted = '"time","symbol","open","high","low","close","volume"\n' + unique.map((row, i) => row.map((c) => `"${c}"`).join(',') + eols[i]).join('');
      // Small reads, so that rows straddle the ends of chunks.
      const a = await outcome(file(`plain-${seed}.csv`, plain), 4093);
      const b = await outcome(file(`quoted-${seed}.csv`, quoted), 1 << 22);
      if (typeof a === 'string' || typeof b === 'string') {
        expect(typeof a === 'string' ? a : 'loaded').toBe(typeof b === 'string' ? b : 'loaded');
        expect(bad, `only the files with a bad row fail: ${String(a)}`).toBe(true);
        continue;
      }
      loaded++;
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [sym, s] of a) {
        const q = b.get(sym)!;
        for (const k of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(s[k]), `${sym} ${k}`).toEqual(Array.from(q[k]));
      }
    }
    expect(loaded).toBe(3);
  }, 60_000);

  it('reads a time from bytes exactly as parseTime, or leaves it to parseTime', () => {
    const r = rng(9);
    const enc = new TextEncoder();
    let fast = 0;
    for (let i = 0; i < 20_000; i++) {
      const t = Math.floor(r() * 4e12) - 1e12;
      const text = pick(r, [timeCell(r, t), `${String(Math.floor(r() * 1e13))}`, `2024-02-${String(Math.floor(r() * 32)).padStart(2, '0')}T1${Math.floor(r() * 10)}:30:00Z`, `0099-01-01`, `2023-02-29`, `2024-02-29T24:00:00Z`, `2024-01-01T00:00:00.${String(Math.floor(r() * 1e4))}Z`]);
      const b = enc.encode(text);
      const v = readTime(b, 0, b.length);
      if (Number.isNaN(v)) continue;
      fast++;
      expect(v, text).toBe(parseTime(text));
    }
    expect(fast).toBeGreaterThan(5_000);
  });
});
