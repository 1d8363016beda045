/** GrowableF64 (src/backtest/columns.ts): values kept through growth in place and past it. */
import { describe, expect, it } from 'vitest';
import { GrowableF64 } from '../src/backtest/columns.ts';

describe('GrowableF64', () => {
  it('keeps every value as it grows in place, then by a copy beyond its reserved room', () => {
    for (const inPlace of [1 << 20, 100]) {
      const g = new GrowableF64(16, inPlace);
      for (let i = 0; i < 5000; i++) g.push(i * 0.25 - 7);
      expect(g.length).toBe(5000);
      const v = g.view();
      expect(v.length).toBe(5000);
      expect(Array.from(v)).toEqual(Array.from({ length: 5000 }, (_, i) => i * 0.25 - 7));
      expect(g.get(4999)).toBe(4999 * 0.25 - 7);
    }
  });
});
