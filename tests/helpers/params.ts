/** Strategy params for tests: the spec's example keys, overridable. */
import { cointegrationParamsSchema, type CointegrationParams } from '../../src/strategies/cointegration/params.ts';

export function testParams(over: Record<string, unknown> = {}): CointegrationParams {
  return cointegrationParamsSchema.parse({
    type: 'cointegration',
    legs: {
      y: { symbol: 'YYY', secType: 'STK', exchange: 'SMART', currency: 'USD' },
      x: { symbol: 'XXX', secType: 'STK', exchange: 'SMART', currency: 'USD' },
    },
    bar: '5min',
    transform: 'none',
    hedge: { method: 'ols' },
    lookback: 40,
    entryZ: 2.0,
    exitZ: 0.5,
    stopZ: 3.5,
    sizing: { capitalFraction: 0.5 },
    shortMode: 'hedge',
    ...over,
  });
}
