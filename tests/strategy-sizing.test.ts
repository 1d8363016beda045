/** Sizing at entry (docs/strategy.md, "Sizing at entry"), by hand. */
import { describe, expect, it } from 'vitest';
import { roundDownToIncrement, sizeEntry } from '../src/strategies/cointegration/sizing.ts';
import { testParams } from './helpers/params.ts';

const crypto = (symbol: string) => ({ symbol, secType: 'CRYPTO', exchange: 'PAXOS', currency: 'USD' });

describe('strategy sizing', () => {
  it('rounds down to the increment, without losing an increment to binary floating point', () => {
    expect(roundDownToIncrement(0.3, 0.0001)).toBe(0.3);
    expect(roundDownToIncrement(8.33333333, 0.0001)).toBe(8.3333);
    expect(roundDownToIncrement(0.99999, 0.0001)).toBe(0.9999);
    expect(roundDownToIncrement(799.9999, 1)).toBe(799);
    expect(roundDownToIncrement(0.00009, 0.0001)).toBe(0);
    expect(roundDownToIncrement(12.7, 5)).toBe(10);
    // Whole increments skip the 12-decimal print: the same numbers as printing them.
    for (let i = 0; i < 10_000; i++) {
      const qty = Math.exp(i / 400) * (1 + (i % 7) / 10);
      for (const inc of [1, 5, 100]) {
        const k = Math.floor(qty / inc + 1e-9);
        expect(roundDownToIncrement(qty, inc)).toBe(k > 0 ? Number((k * inc).toFixed(12)) : 0);
      }
    }
  });

  it('transform log: N_y = G/(1+|b|), N_x = |b|·G/(1+|b|), q = N/close', () => {
    const p = testParams({ transform: 'log' });
    // G = 0.5 × 100000 = 50000; b = 1.5: N_y = 20000 → 800 at 25; N_x = 30000 → 750 at 40.
    expect(sizeEntry(p, 'LONG', 1.5, 25, 40, 100_000)).toEqual({ qtyY: 800, qtyX: -750 });
    expect(sizeEntry(p, 'SHORT', 1.5, 25, 40, 100_000)).toEqual({ qtyY: -800, qtyX: 750 });
    // b < 0: LONG buys both legs, SHORT sells both.
    expect(sizeEntry(p, 'LONG', -1.5, 25, 40, 100_000)).toEqual({ qtyY: 800, qtyX: 750 });
    expect(sizeEntry(p, 'SHORT', -1.5, 25, 40, 100_000)).toEqual({ qtyY: -800, qtyX: -750 });
  });

  it('transform none: q_y = G/(close_y + |b|·close_x), q_x = |b|·q_y', () => {
    const p = testParams({ transform: 'none' });
    // q_y = 50000 / (20 + 2·15) = 1000, q_x = 2000.
    expect(sizeEntry(p, 'LONG', 2, 20, 15, 100_000)).toEqual({ qtyY: 1000, qtyX: -2000 });
    // q_y = 50000 / (30 + 0.7·11) = 1326.259..., q_x = 928.38... → 1326, 928.
    expect(sizeEntry(p, 'SHORT', 0.7, 30, 11, 100_000)).toEqual({ qtyY: -1326, qtyX: 928 });
  });

  it('CRYPTO legs round to 0.0001 by default', () => {
    const p = testParams({ transform: 'log', legs: { y: crypto('BTC'), x: crypto('ETH') } });
    // b = 1: N_y = N_x = 25000; 25000/3000 = 8.3333..., 25000/60000 = 0.41666...
    expect(sizeEntry(p, 'LONG', 1, 3000, 60_000, 100_000)).toEqual({ qtyY: 8.3333, qtyX: -0.4166 });
  });

  it('skips the entry when either quantity rounds to zero, or b = 0', () => {
    const p = testParams({ transform: 'log' });
    expect(sizeEntry(p, 'LONG', 1, 25, 80_000, 100_000)).toBeNull(); // 25000/80000 < 1 share of x
    expect(sizeEntry(p, 'LONG', 0, 25, 40, 100_000)).toBeNull();
    expect(sizeEntry(p, 'LONG', 1, 25, 40, 0)).toBeNull();
  });

  it('long-only: LONG holds y alone, SHORT holds x alone (b > 0), both sized with the full G', () => {
    const p = testParams({ shortMode: 'long-only' });
    expect(sizeEntry(p, 'LONG', 1.5, 25, 40, 100_000)).toEqual({ qtyY: 2000, qtyX: 0 });
    expect(sizeEntry(p, 'SHORT', 1.5, 25, 40, 100_000)).toEqual({ qtyY: 0, qtyX: 1250 });
    // With b < 0 a SHORT sells both legs: nothing would be bought, no entry.
    expect(sizeEntry(p, 'SHORT', -1.5, 25, 40, 100_000)).toBeNull();
  });
});
