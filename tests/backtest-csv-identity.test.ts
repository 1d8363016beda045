/**
 * The CSV loader (byte-level fast path plus its slow path) against a straightforward reading of
 * the same file (tests/helpers/csv-reference.ts): on randomized files full of common and odd
 * cells, both must give bit-identical columns, or the same error with the same file:line:col.
 * Reads are small and of random size so that rows straddle chunk ends. Also: the exact
 * decimal-to-double reading against `Number` on digit strings built to sit next to the halfway
 * point between two doubles, where a reading that is merely close would round the wrong way.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBarsCsv, type BarSeries, type LoadCsvOptions } from '../src/backtest/csv.ts';
import { decimalToDouble, POW10 } from '../src/backtest/csv-decimal.ts';
import { referenceRead } from './helpers/csv-reference.ts';
import { rng } from './helpers/pair-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-csv-identity-'));
type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** Decimal digits of m * 2^e (m a positive integer), truncated to `sig` significant digits. */
function exactDigits(m: bigint, e: number, sig: number): string {
  // m * 2^e = (m * 5^-e) / 10^-e for e < 0.
  let digits = e >= 0 ? (m << BigInt(e)).toString() : (m * 5n ** BigInt(-e)).toString();
  let point = e >= 0 ? digits.length : digits.length + e; // digits before the decimal point
  const lead = digits.match(/^0*/)![0].length;
  digits = digits.slice(lead, lead + sig);
  point -= lead;
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A digit string next to the halfway point between the double x (positive, normal) and the next one up. */
function nearHalfway(r: Rand, x: number): string {
  const bits = new BigUint64Array(new Float64Array([x]).buffer)[0]!;
  const e = Number((bits >> 52n) & 0x7ffn) - 1075;
  const m = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  // The midpoint (m + 1/2) * 2^e = (2m + 1) * 2^(e-1), cut to 16–19 significant digits.
  const text = exactDigits(2n * m + 1n, e - 1, int(r, 16, 19));
  // Now and then step the last kept digit, to land just either side of it.
  if (r() < 0.3 && /[1-8]$/.test(text)) return text.slice(0, -1) + String(Number(text.at(-1)) + pick(r, [-1, 1]));
  return text;
}

/** A price or volume cell, common or odd; `bad` makes one that the reading must refuse. */
function numberCell(r: Rand, bad: boolean): string {
  if (bad) return pick(r, ['abc', '', '-1', '0', '1e400', '9'.repeat(int(r, 309, 330)), 'Infinity', '-0.5', '1.2.3', '1e', '--1', '1 2']);
  const v = 1 + Math.exp(r() * 9 - 1); // 1.4 … 3,000: no cell rounds to 0
  return pick(r, [
    v.toFixed(2),
    v.toFixed(int(r, 0, 6)),
    String(v), // up to 17 significant digits: the 16–18 digit path
    v.toPrecision(int(r, 1, 21)),
    v.toExponential(int(r, 0, 17)),
    v.toExponential(3).toUpperCase(),
    `00${v.toFixed(3)}`,
    ` ${v.toFixed(1)} `,
    `${Math.round(v) + 1}.`,
    `.${int(r, 1, 99999)}`,
    nearHalfway(r, v),
    nearHalfway(r, 100 + v),
    `${int(r, 1, 9)}${'0'.repeat(int(r, 15, 24))}`,
    `0.${'0'.repeat(int(r, 0, 25))}${int(r, 1, 999)}`,
    `${v.toFixed(2)}${'0'.repeat(int(r, 1, 25))}`,
    '0x1A',
    `+${v.toFixed(2)}`,
    `${int(r, 1, 9)}e+${int(r, 0, 20)}`,
    '9'.repeat(int(r, 19, 300)),
  ]);
}

function timeCell(r: Rand, t: number, bad: boolean): string {
  if (bad) return pick(r, ['yesterday', '', '1704205800', '2023-02-29', '2024-01-02T24:00:00Z', '99999999999999999', '2024-13-01', '2024-01-02T10:00:00+5']);
  const iso = new Date(t).toISOString();
  return pick(r, [
    iso,
    iso,
    iso.replace('.000Z', 'Z'),
    iso.replace('.000Z', ''),
    iso.replace(/:00\.000Z$/, 'Z'),
    String(t),
    iso.replace('T', ' '),
    iso.replace('Z', '+00:00'),
    iso.toLowerCase(),
    ` ${iso} `,
    iso.replace('.000Z', '.5Z'),
  ]);
}

interface Made {
  text: string;
  symbols: string[];
}

/** A bar file of `n` rows with random layout, cells and line ends; with `bad`, one defect somewhere. */
function makeFile(r: Rand, n: number, bad: boolean): Made {
  // Column order, and now and then an extra column (ignored, possibly quoted with a comma inside).
  const cols: string[] = ['time', 'symbol', 'open', 'high', 'low', 'close', 'volume'];
  if (r() < 0.4) for (let i = cols.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [cols[i], cols[j]] = [cols[j]!, cols[i]!];
  }
  if (r() < 0.3) cols.splice(int(r, 0, cols.length), 0, 'note');
  const symbols = pick(r, [['A', 'BB'], ['ETHA', 'ETHV', 'CCC'], ['ÄÖ', 'A'], ['X', 'Y', 'Z', 'W', 'V', 'U', 'T', 'S', 'R', 'Q']]);
  const quoteAll = r() < 0.1;
  const q = (c: string) => (quoteAll || (r() < 0.01) ? `"${c.replace(/"/g, '""')}"` : c);
  const header = (r() < 0.1 ? cols.map((c) => c.toUpperCase()) : cols).map(q).join(',');
  const badAt = bad ? int(r, 0, n - 1) : -1;
  const badKind = pick(r, ['number', 'time', 'symbol', 'fields', 'duplicate']);
  let t = Date.UTC(2024, 0, 2, 14, 30) + int(r, 0, 1000) * 60_000;
  const eol = () => (r() < 0.9 ? '\n' : pick(r, ['\r\n', '\n\n', '\n   \n', '\r\n\r\n']));
  const out: string[] = [(r() < 0.1 ? '\uFEFF' : '') + header + '\n'];
  const last = new Map<string, string>();
  let prev: [string, number] | null = null;
  for (let i = 0; i < n; i++) {
    const isBad = i === badAt;
    let sym = pick(r, symbols);
    if (r() < 0.6) t += 60_000;
    // A second bar at a time the symbol has: that of the row before.
    if (isBad && badKind === 'duplicate' && prev) [sym, t] = prev;
    const cells: Record<string, string> = {
      time: timeCell(r, t, isBad && badKind === 'time'),
      symbol: isBad && badKind === 'symbol' ? pick(r, ['', '  ']) : r() < 0.02 ? ` ${sym}` : sym,
      note: pick(r, ['', 'x', '"a, b"', 'free text']),
    };
    const badCol = pick(r, ['open', 'high', 'low', 'close', 'volume']);
    for (const c of ['open', 'high', 'low', 'close', 'volume']) cells[c] = numberCell(r, isBad && badKind === 'number' && c === badCol);
    if (cells.volume === '0x1A' || r() < 0.05) cells.volume = pick(r, ['0', '0.0', '1e-400', '12']);
    let row = cols.map((c) => (c === 'note' ? cells[c]! : q(cells[c]!)));
    if (isBad && badKind === 'fields') row = row.slice(0, -1);
    // One bar a time per symbol (a repeat is the duplicate error): skip rows whose time came already.
    const key = `${sym}|${t}`;
    if (last.has(key) && !(isBad && badKind === 'duplicate')) continue;
    last.set(key, '');
    prev = [sym, t];
    out.push(row.join(',') + eol());
  }
  let text = out.join('');
  if (r() < 0.3) text = text.replace(/(\r?\n)+$/, ''); // no newline after the last row
  return { text, symbols };
}

/** loadBarsCsv's outcome for the file: the series, or the error message. */
async function load(f: string, opts: LoadCsvOptions = {}): Promise<Map<string, BarSeries> | string> {
  try {
    return await loadBarsCsv(f, opts);
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Both refused with the same message, or both loaded the same symbols with bit-identical columns.
 * `pricesOnly`: `got` kept time, open and close only, and must hold NaN for the other fields.
 */
function expectSame(got: Map<string, BarSeries> | string, want: ReturnType<typeof referenceRead>, label: string, pricesOnly = false): void {
  if (typeof want === 'string' || typeof got === 'string') {
    expect(got, label).toBe(want);
    return;
  }
  expect([...got.keys()].sort(), label).toEqual([...want.keys()].sort());
  for (const [sym, s] of got) {
    const w = want.get(sym)!;
    expect(s.length, `${label} ${sym}`).toBe(w.time.length);
    // toEqual on plain arrays compares numbers with Object.is: bit-identical, -0 and all.
    for (const k of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) {
      const kept = !pricesOnly || k === 'time' || k === 'open' || k === 'close';
      expect(Array.from(s[k]), `${label} ${sym} ${k}`).toEqual(kept ? w[k] : w[k].map(() => Number.NaN));
    }
  }
}

describe('csv loader against the reference reading', () => {
  it('gives identical columns or the identical error on randomized files', async () => {
    let loaded = 0;
    let refused = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = rng(1000 + seed);
      const { text, symbols } = makeFile(r, int(r, 1, 3000), seed % 2 === 0);
      const f = join(dir, `f${seed}.csv`);
      writeFileSync(f, text);
      const only = r() < 0.2 ? [symbols[0]!] : undefined;
      const want = referenceRead(f, only);
      for (const readChunkBytes of [int(r, 16, 300), int(r, 301, 70_000), undefined]) {
        expectSame(await load(f, { symbols: only, readChunkBytes }), want, `${f} (reads of ${readChunkBytes ?? 'default'} bytes)`);
      }
      // Keeping prices only: high, low and volume are checked without being read, with the same outcome.
      expectSame(await load(f, { symbols: only, readChunkBytes: int(r, 16, 70_000), pricesOnly: true }), want, `${f} (prices only)`, true);
      if (typeof want === 'string') refused++;
      else loaded++;
    }
    // Both outcomes occurred often enough for the comparison to mean something.
    expect(loaded).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  }, 180_000);

  it('agrees on each odd cell, in every column, after a row the fast path read', async () => {
    const numbers = ['1', '0', '-0', '-1', '+5', '00012.50', '.5', '5.', '.', '', ' ', ' 7 ', '\t7', '7\t', '1e5', '1E-5', '1.5e+3', '1e', 'e5', '1e400', '1e-400',
      '9'.repeat(320), '9'.repeat(40), '1' + '0'.repeat(22), '0.' + '0'.repeat(30) + '1', '147.55476633659552', '0.30000000000000004', '9007199254740993',
      '9007199254740993.0', '4503599627370496.5', '1.2.3', '0x1A', 'Infinity', '-Infinity', 'NaN', 'abc', '1,5', '"2.5"', '"1,5"', '1_000', '١'];
    const times = ['2024-01-02T14:31:00Z', '2024-01-02T14:31:00.000Z', '2024-01-02T14:31:00.5Z', '2024-01-02T14:31:00.1234Z', '2024-01-02T14:31', '2024-01-02 14:31:00',
      '2024-01-02t14:31:00z', '2024-01-02T15:31:00+01:00', '2024-01-02T09:31:00-0500', ' 2024-01-02T14:31:00Z', '2024-01-02', '1704206460000', '-1704206460000',
      '1704206460', '99999999999999999', '', ' ', '2023-02-29', '2024-02-29', '2000-02-29', '1900-02-29', '2100-02-29', '2400-02-29', '2023-04-31', '2023-12-31T23:59', '2024-01-02T24:00:00Z', '0099-01-01', '2024-01-02TZ', 'Z', '"2024-01-02T14:31:00Z"'];
    const symbols = ['A', 'B', '', ' ', ' A', 'A ', 'A\t', '\u00a0A', 'A\u3000', '"A,B"', '"A"', 'ÄÖ', 'A"B'];
    const H = 'time,symbol,open,high,low,close,volume\n';
    const fast = '2024-01-02T14:30:00.000Z,A,1.5,2,1,1.75,100\n';
    let k = 0;
    const check = async (row: string) => {
      for (const eol of ['\n', '\r\n', '']) {
        const f = join(dir, `cell-${k++}.csv`);
        writeFileSync(f, H + fast + row + eol);
        const want = referenceRead(f);
        expectSame(await load(f), want, JSON.stringify(row + eol));
        expectSame(await load(f, { pricesOnly: true }), want, `${JSON.stringify(row + eol)} (prices only)`, true);
      }
    };
    for (const n of numbers) for (let c = 0; c < 5; c++) await check(['2024-01-02T14:31:00Z', 'A', ...[1, 2, 3, 4, 5].map((_, i) => (i === c ? n : '2'))].join(','));
    for (const t of times) await check(`${t},B,1,1,1,1,1`);
    for (const sym of symbols) await check(`2024-01-02T14:31:00Z,${sym},1,1,1,1,1`);
  }, 120_000);

  it('reads 16–18 significant digits exactly as Number does, next to halfway points too', () => {
    const r = rng(77);
    let decided = 0;
    let cases = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = Math.exp((r() - 0.5) * 40);
      const text = pick(r, [String(x), x.toPrecision(16), x.toPrecision(18), nearHalfway(r, x)]);
      const m = /^(\d*)\.?(\d*)$/.exec(text);
      if (!m) continue; // exponent forms go to Number, not here
      const digits = (m[1]! + m[2]!).replace(/^0+/, '');
      const frac = m[2]!.length;
      if (digits.length < 16 || digits.length > 18 || frac > 22) continue;
      cases++;
      const v = decimalToDouble(Number(digits.slice(0, 9)), POW10[digits.length - 9]!, Number(digits.slice(9)), frac);
      if (Number.isNaN(v)) continue; // undecided: the loader asks Number
      decided++;
      expect(Object.is(v, Number(text)), text).toBe(true);
    }
    expect(cases).toBeGreaterThan(100_000);
    // Exact ties (odd integers between 2^53 and 2^54, halves between 2^52 and 2^53) round to even.
    for (let i = 0; i < 20_000; i++) {
      const odd = 2n ** 53n + 2n * BigInt(Math.floor(r() * 2 ** 51)) + 1n;
      const half = `${2n ** 52n + BigInt(Math.floor(r() * 2 ** 51))}.5`;
      for (const text of [`${odd}`, `${odd}.0`, `${odd}.00`, half, `${half}0`]) {
        const [int, frac = ''] = text.split('.');
        const digits = int! + frac;
        const v = decimalToDouble(Number(digits.slice(0, 9)), POW10[digits.length - 9]!, Number(digits.slice(9)), frac.length);
        if (!Number.isNaN(v)) expect(Object.is(v, Number(text)), text).toBe(true);
      }
    }
    // Undecided is rare even among strings built to sit at halfway points.
    expect(decided / cases).toBeGreaterThan(0.99);
  });
});
