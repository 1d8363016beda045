/**
 * `tandem history --symbols`: a universe downloaded from the simulator (on loopback) into one bar
 * file that `tandem scan` reads; progress per symbol; an unknown symbol reported and skipped; a
 * second run served from the per-symbol cache without a gateway at all.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBarsCsv } from '../src/backtest/csv.ts';
import { parseSymbols } from '../src/backtest/universe.ts';
import { startSimulator, type RunningSimulator } from '../src/gateway-sim/index.ts';
import { runTandem } from './helpers/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-universe-'));
let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ authenticated: true, seed: 7, startTime: '2024-03-15T21:00:00Z', profile: 'ideal' });
});
afterAll(async () => {
  await sim?.close();
});

const tandem = (args: string[]) => runTandem(args, dir);

describe('history --symbols', () => {
  it('parses a symbol list: STK by default, :CRYPTO on PAXOS, duplicates once', () => {
    expect(parseSymbols(' etha, ETHV ,btc:crypto,ETHA')).toEqual([
      { symbol: 'ETHA', secType: 'STK', currency: 'USD', exchange: 'SMART' },
      { symbol: 'ETHV', secType: 'STK', currency: 'USD', exchange: 'SMART' },
      { symbol: 'BTC', secType: 'CRYPTO', currency: 'USD', exchange: 'PAXOS' },
    ]);
    expect(() => parseSymbols('SPY:OPT')).toThrow(/security type OPT is not one of STK, CRYPTO/);
    expect(() => parseSymbols(' , ')).toThrow(/--symbols is empty/);
  });

  it('downloads a universe that scan reads, skips an unknown symbol, then serves it from the cache', async () => {
    const args = ['history', '--symbols', 'ETHA,ETHV,SPY,QQQ,NOSUCH', '--bar', '5min', '--start', '2024-03-13', '--end', '2024-03-14', '--out', 'universe.csv'];
    const r = await tandem([...args, '--gateway', sim.url]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^\[1\/5\] ETHA: \d+ bars\n\[2\/5\] ETHV: \d+ bars\n\[3\/5\] SPY: \d+ bars\n\[4\/5\] QQQ: \d+ bars\n\[5\/5\] NOSUCH: failed: .*NOSUCH/);
    expect(r.out).toMatch(/^4 symbol\(s\) \(0 from the cache\), \d+ bars written to universe\.csv\n1 symbol\(s\) skipped: NOSUCH/);
    const m = await loadBarsCsv(join(dir, 'universe.csv'));
    expect([...m.keys()].sort()).toEqual(['ETHA', 'ETHV', 'QQQ', 'SPY']);
    for (const s of m.values()) {
      expect(s.length).toBeGreaterThan(100);
      expect(s.time[0]).toBeGreaterThanOrEqual(Date.UTC(2024, 2, 13));
      expect(s.time[s.length - 1]).toBeLessThan(Date.UTC(2024, 2, 15));
    }
    expect(readdirSync(join(dir, 'data', 'history', 'cache')).filter((f) => f.endsWith('.csv'))).toHaveLength(4);

    const scan = await tandem(['scan', '--data', 'universe.csv']);
    expect(scan.code).toBe(0);
    expect(scan.out).toMatch(/6 pair\(s\) ranked/);

    // Everything cached: no gateway needed (port 9 on loopback answers nothing).
    const again = await tandem(['history', '--symbols', 'ETHA,ETHV,SPY,QQQ', '--bar', '5min', '--start', '2024-03-13', '--end', '2024-03-14', '--out', 'again.csv', '--gateway', 'https://127.0.0.1:9']);
    expect(again.err).toMatch(/\[4\/4\] QQQ: \d+ bars \(cached\)/);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^4 symbol\(s\) \(4 from the cache\)/);
    const m2 = await loadBarsCsv(join(dir, 'again.csv'));
    for (const [sym, s] of m) expect(Array.from(m2.get(sym)!.close)).toEqual(Array.from(s.close));
  }, 180_000);

  it('a gateway that cannot be reached ends the run with one error', async () => {
    const r = await tandem(['history', '--symbols', 'IBM', '--bar', '5min', '--start', '2024-03-13', '--end', '2024-03-14', '--out', 'x.csv', '--gateway', 'https://127.0.0.1:9']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/^error: .*127\.0\.0\.1:9/m);
    expect(r.err).not.toMatch(/\n\s+at /);
  }, 180_000);

  it('needs a bar size and an output file', async () => {
    const a = await tandem(['history', '--symbols', 'SPY', '--start', '2024-03-13', '--end', '2024-03-14', '--out', 'x.csv', '--gateway', 'https://127.0.0.1:9']);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--symbols needs --bar/);
    const b = await tandem(['history', '--start', '2024-03-13', '--end', '2024-03-14']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/give --config STRATEGY\.yaml .* or --symbols/);
  }, 180_000);
});
