/** Bar files: formats accepted, and every malformed row named by file, line and column. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alignBars, countAligned } from '../src/backtest/align.ts';
import { loadBarsCsv, parseTime } from '../src/backtest/csv.ts';
import { UserError } from '../src/util/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-csv-'));
let k = 0;
function file(text: string): string {
  const f = join(dir, `bars-${k++}.csv`);
  writeFileSync(f, text);
  return f;
}
async function loadError(text: string): Promise<string> {
  const f = file(text);
  try {
    await loadBarsCsv(f);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message.replace(f, 'FILE');
  }
  throw new Error('expected a UserError');
}
const H = 'time,symbol,open,high,low,close,volume\n';

describe('backtest csv', () => {
  it('reads ISO and epoch-ms times, rows in any order, and sorts each symbol', async () => {
    const f = file(
      H +
        '2024-01-02T14:35:00Z,A,2,2,2,2,10\n' +
        `${Date.UTC(2024, 0, 2, 14, 30)},A,1,1,1,1,10\n` +
        '2024-01-02T14:30:00.000Z,B,3,3,3,3,0\n' +
        '\n' +
        '2024-01-02T09:35:00-05:00,B,4,4.5,3.9,4.2,7\r\n',
    );
    const m = await loadBarsCsv(f);
    const a = m.get('A')!;
    const b = m.get('B')!;
    expect(Array.from(a.time)).toEqual([Date.UTC(2024, 0, 2, 14, 30), Date.UTC(2024, 0, 2, 14, 35)]);
    expect(Array.from(a.close)).toEqual([1, 2]);
    expect(Array.from(b.time)).toEqual([Date.UTC(2024, 0, 2, 14, 30), Date.UTC(2024, 0, 2, 14, 35)]);
    expect(Array.from(b.high)).toEqual([3, 4.5]);
    expect(countAligned(a, b)).toBe(2);
    expect([...alignBars(a, b)].map((p) => [p.y.close, p.x.close])).toEqual([[1, 3], [2, 4.2]]);
  });

  it('aligns on the inner join of times', async () => {
    const f = file(H + ['1704205800000,A,1,1,1,1,1', '1704206100000,A,2,2,2,2,1', '1704206400000,A,3,3,3,3,1', '1704206100000,B,5,5,5,5,1', '1704206400000,B,6,6,6,6,1', '1704206700000,B,7,7,7,7,1'].join('\n'));
    const m = await loadBarsCsv(f, { symbols: ['A', 'B'] });
    expect([...alignBars(m.get('A')!, m.get('B')!)].map((p) => [p.time, p.y.close, p.x.close])).toEqual([
      [1704206100000, 2, 5],
      [1704206400000, 3, 6],
    ]);
  });

  it('keeps only the symbols asked for, but still validates the others', async () => {
    const m = await loadBarsCsv(file(H + '2024-01-02,A,1,1,1,1,1\n2024-01-02,C,1,1,1,1,1\n'), { symbols: ['A'] });
    expect([...m.keys()]).toEqual(['A']);
    await expect(loadBarsCsv(file(H + '2024-01-02,A,1,1,1,1,1\n2024-01-02,C,x,1,1,1,1\n'), { symbols: ['A'] })).rejects.toThrow(/:3:14: column 'open'/);
  });

  it('names file, line and column of a malformed value', async () => {
    expect(await loadError(H + '2024-01-02T14:30:00Z,A,1,1,1,abc,10\n')).toBe("FILE:2:30: column 'close': 'abc' is not a number");
    expect(await loadError(H + '2024-01-02T14:30:00Z,A,1,1,1,1,10\n2024-13-02T14:30:00Z,A,1,1,1,1,10\n')).toBe("FILE:3:1: column 'time': '2024-13-02T14:30:00Z' is not a valid date-time");
    expect(await loadError(H + 'yesterday,A,1,1,1,1,10\n')).toMatch(/^FILE:2:1: column 'time': 'yesterday' is not an ISO 8601 UTC time/);
    expect(await loadError(H + '1704205800,A,1,1,1,1,10\n')).toMatch(/^FILE:2:1: column 'time': '1704205800' looks like epoch seconds/);
    expect(await loadError(H + '2024-01-02,A,1,1,0,1,10\n')).toBe("FILE:2:18: column 'low': 0 must be positive");
    expect(await loadError(H + '2024-01-02,A,1,1,1,1,-5\n')).toBe("FILE:2:22: column 'volume': -5 must be zero or more");
    expect(await loadError(H + '2024-01-02,,1,1,1,1,5\n')).toBe("FILE:2:12: column 'symbol' is empty");
    expect(await loadError(H + '2024-01-02,A,1,1,1,1\n')).toBe('FILE:2:1: 6 fields where the header has 7');
    expect(await loadError(H + '2024-01-02,A,1,1,1,,5\n')).toBe("FILE:2:20: column 'close': '' is not a number");
  });

  it('refuses a bad header, an empty file, a duplicate bar, a missing file', async () => {
    expect(await loadError('time,symbol,open,high,low,close\n')).toMatch(/^FILE:1:1: the header lacks column 'volume'/);
    expect(await loadError('')).toMatch(/^FILE: the file is empty/);
    expect(await loadError(H + '2024-01-02,A,1,1,1,1,1\n2024-01-03,A,1,1,1,1,1\n1704153600000,A,1,1,1,1,1\n')).toBe('FILE:4:1: a second bar for A at 2024-01-02T00:00:00.000Z (the first is on line 2)');
    await expect(loadBarsCsv(join(dir, 'nope.csv'))).rejects.toThrow(/nope\.csv: no such data file\. Fix: check the --data path/);
  });

  it('reads 64 KB first, then four times more at each read up to 4 MB (a reading thread publishes after each read)', async () => {
    let text = H;
    for (let i = 0; text.length < 1_500_000; i++) text += `${new Date(Date.UTC(2024, 0, 2) + i * 60_000).toISOString()},ETHA,1.25,1.5,1,1.25,100\n`;
    const f = file(text);
    const progress: number[] = [];
    const m = await loadBarsCsv(f, { onProgress: (done) => progress.push(done) });
    expect(progress.slice(0, 3)).toEqual([65_536, 65_536 + 262_144, 65_536 + 262_144 + 1_048_576]);
    expect(progress.at(-1)).toBe(text.length);
    expect(m.get('ETHA')!.length).toBe(text.split('\n').length - 2);
  });

  it('parses time formats', () => {
    expect(parseTime('2024-01-02T14:30:00Z')).toBe(Date.UTC(2024, 0, 2, 14, 30));
    expect(parseTime('2024-01-02 14:30')).toBe(Date.UTC(2024, 0, 2, 14, 30));
    expect(parseTime('2024-01-02T14:30:00.250+01:00')).toBe(Date.UTC(2024, 0, 2, 13, 30, 0, 250));
    expect(parseTime('2024-02-30')).toMatch(/not a valid date/);
    expect(parseTime('1704205800000')).toBe(1704205800000);
  });
});
