/**
 * `tandem demo` end to end (in-process, faster clock): it trades, prints, and ends cleanly; and the
 * same seed gives the same decisions (whatever the pace and the machine's load), another seed others.
 */
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/cli/demo.ts';

/** The decision lines: time, strategy, side, reason, z, hedge ratio, quantities and prices. */
const decisionLines = (lines: string[]): string[] => lines.filter((l) => /^\d\d:\d\d {2}decision {2}/.test(l));

describe('engine demo', () => {
  let first: string[] = [];

  it('engine demo runs one simulated day: decisions, orders and fills printed, summary at the end', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ speed: 600, seed: 7, verbose: false, out: (l) => lines.push(l) });
    first = lines;
    expect(summary.stopReason).toBe('max-bars');
    expect(summary.bars).toBe(77);
    expect(summary.orders).toBeGreaterThan(0);
    expect(summary.fills).toBeGreaterThanOrEqual(summary.orders);
    expect(lines.some((l) => /decision {2}demo_etha_ethv {2}ENTER (LONG|SHORT) {2}z=-?\d+\.\d\d {2}hedge=-?\d+\.\d{3} {2}(BUY|SELL) \d+ ETHA @ \d+\.\d\d, (BUY|SELL) \d+ ETHV @ \d+\.\d\d$/.test(l))).toBe(true);
    expect(lines.some((l) => /fill {6}(BUY|SELL)/.test(l))).toBe(true);
    expect(lines.at(-3)).toMatch(/^summary: 77 bars/);
    // It says which strategy file it runs: one that exists in configs/.
    expect(lines.some((l) => /^strategy file configs\/strategies\/demo_etha_ethv\.yaml \(demo_etha_ethv\)/.test(l))).toBe(true);
  }, 240_000);

  it('two demo runs with the same seed give the same decisions (at another pace too); a different seed gives different ones', async () => {
    expect(decisionLines(first).length).toBeGreaterThan(2);
    const again: string[] = [];
    await runDemo({ speed: 5_000, seed: 7, verbose: false, out: (l) => again.push(l) });
    expect(decisionLines(again)).toEqual(decisionLines(first));
    const other: string[] = [];
    await runDemo({ speed: 5_000, seed: 8, verbose: false, out: (l) => other.push(l) });
    expect(decisionLines(other).length).toBeGreaterThan(0);
    expect(decisionLines(other)).not.toEqual(decisionLines(first));
  }, 480_000);
});
