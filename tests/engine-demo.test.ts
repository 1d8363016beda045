/** `tandem demo` end to end (in-process, faster clock): it trades, prints, and ends cleanly. */
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/cli/demo.ts';

describe('engine demo', () => {
  it('engine demo runs one simulated day: decisions, orders and fills printed, summary at the end', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ speed: 600, seed: 7, verbose: false, out: (l) => lines.push(l) });
    expect(summary.stopReason).toBe('max-bars');
    expect(summary.bars).toBe(77);
    expect(summary.orders).toBeGreaterThan(0);
    expect(summary.fills).toBeGreaterThanOrEqual(summary.orders);
    expect(lines.some((l) => /decision {2}ENTER/.test(l))).toBe(true);
    expect(lines.some((l) => /fill {6}(BUY|SELL)/.test(l))).toBe(true);
    expect(lines.at(-3)).toMatch(/^summary: 77 bars/);
    // It says which strategy file it runs: one that exists in configs/.
    expect(lines.some((l) => /^strategy file configs\/strategies\/demo_etha_ethv\.yaml \(demo_etha_ethv\)/.test(l))).toBe(true);
  }, 240_000);
});
