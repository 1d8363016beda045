/**
 * A straightforward reading of a bar file, written from docs/strategy.md's rules and nothing else,
 * to hold the fast CSV loader to: the whole file as one string, split into lines and cells, each
 * cell trimmed and read with `Number` or parseTime, the same error wording. Slow and obvious on
 * purpose; tests compare loadBarsCsv's columns and errors with it bit for bit.
 */
import { readFileSync } from 'node:fs';
import { CSV_COLUMNS, parseTime } from '../../src/backtest/csv.ts';

export interface ReferenceSeries {
  time: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

const NUMERIC = ['open', 'high', 'low', 'close', 'volume'] as const;

/** Cells of one line: commas split, double quotes group (a doubled quote inside is one quote). */
function cells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted && ch === '"' && line[i + 1] === '"') {
      cur += '"';
      i++;
    } else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** The series by symbol, sorted by time, or the error message loadBarsCsv must give. */
export function referenceRead(file: string, symbols?: readonly string[]): Map<string, ReferenceSeries> | string {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  let header: Map<string, number> | null = null;
  let width = 0;
  const rows = new Map<string, { t: number; v: number[]; line: number }[]>();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (lineNo === 1 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.trim() === '') continue;
    const f = cells(line);
    // Column of cell k, 1-based, counted in characters of the line as split (quotes included).
    const col = (k: number) => 1 + f.slice(0, k).reduce((n, c) => n + c.length + 1, 0);
    if (!header) {
      const names = f.map((c) => c.trim().toLowerCase());
      header = new Map();
      for (const name of CSV_COLUMNS) {
        if (!names.includes(name)) return `${file}:${lineNo}:1: the header lacks column '${name}'; expected a header line '${CSV_COLUMNS.join(',')}'`;
        header.set(name, names.indexOf(name));
      }
      width = f.length;
      continue;
    }
    if (f.length !== width) return `${file}:${lineNo}:1: ${f.length} fields where the header has ${width}`;
    const at = (name: string) => header!.get(name)!;
    const symbol = f[at('symbol')]!.trim();
    if (symbol === '') return `${file}:${lineNo}:${col(at('symbol'))}: column 'symbol' is empty`;
    const t = parseTime(f[at('time')]!.trim());
    if (typeof t === 'string') return `${file}:${lineNo}:${col(at('time'))}: column 'time': ${t}`;
    const v: number[] = [];
    for (const [k, name] of NUMERIC.entries()) {
      const cell = f[at(name)]!.trim();
      const x = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(x)) return `${file}:${lineNo}:${col(at(name))}: column '${name}': '${cell}' is not a number`;
      if (name === 'volume' ? x < 0 : x <= 0) return `${file}:${lineNo}:${col(at(name))}: column '${name}': ${cell} must be ${k === 4 ? 'zero or more' : 'positive'}`;
      v.push(x);
    }
    if (symbols && !symbols.includes(symbol)) continue;
    if (!rows.has(symbol)) rows.set(symbol, []);
    rows.get(symbol)!.push({ t, v, line: lineNo });
  }
  if (!header) return `${file}: the file is empty; expected a header line '${CSV_COLUMNS.join(',')}' and rows`;
  const out = new Map<string, ReferenceSeries>();
  for (const [symbol, list] of rows) {
    list.sort((a, b) => a.t - b.t || a.line - b.line);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.t === list[i - 1]!.t) {
        return `${file}:${list[i]!.line}:1: a second bar for ${symbol} at ${new Date(list[i]!.t).toISOString()} (the first is on line ${list[i - 1]!.line})`;
      }
    }
    out.set(symbol, {
      time: list.map((r) => r.t),
      open: list.map((r) => r.v[0]!),
      high: list.map((r) => r.v[1]!),
      low: list.map((r) => r.v[2]!),
      close: list.map((r) => r.v[3]!),
      volume: list.map((r) => r.v[4]!),
    });
  }
  return out;
}
