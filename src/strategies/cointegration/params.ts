/**
 * The cointegration strategy's configuration: the `strategy:` and `costs:` sections of a strategy
 * file, exactly the keys of docs/strategy.md, with the defaults that page gives. A file holding only
 * the keys of the spec's example is complete.
 */
import { z } from 'zod';

export const SEC_TYPES = ['STK', 'CRYPTO'] as const;
export type SecType = (typeof SEC_TYPES)[number];

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

export const perShareCommissionSchema = z.strictObject({
  model: z.literal('per-share'),
  perShare: nonNegative,
  minimum: nonNegative.default(0),
  maxPctOfValue: positive.max(1).optional(),
});
export const percentCommissionSchema = z.strictObject({
  model: z.literal('percent'),
  pct: nonNegative.max(1),
  minimum: nonNegative.default(0),
});
export const commissionSchema = z.discriminatedUnion('model', [perShareCommissionSchema, percentCommissionSchema]);
export type CommissionModel = z.infer<typeof commissionSchema>;

/** Defaults of the spec: IBKR Pro fixed pricing for stocks, PAXOS crypto pricing. */
export const DEFAULT_COMMISSION: Record<SecType, CommissionModel> = {
  STK: { model: 'per-share', perShare: 0.005, minimum: 1.0, maxPctOfValue: 0.01 },
  CRYPTO: { model: 'percent', pct: 0.0018, minimum: 1.75 },
};
export const DEFAULT_QTY_INCREMENT: Record<SecType, number> = { STK: 1, CRYPTO: 0.0001 };

export const legSchema = z
  .strictObject({
    symbol: z.string().trim().min(1),
    secType: z.enum(SEC_TYPES),
    exchange: z.string().trim().min(1),
    currency: z.string().trim().length(3).default('USD'),
    /** Optional: the IBKR contract id, to skip contract discovery. */
    conid: z.number().int().positive().optional(),
    qtyIncrement: positive.optional(),
    commission: commissionSchema.optional(),
  })
  .transform((leg) => ({
    ...leg,
    qtyIncrement: leg.qtyIncrement ?? DEFAULT_QTY_INCREMENT[leg.secType],
    commission: leg.commission ?? DEFAULT_COMMISSION[leg.secType],
  }));
export type LegConfig = z.output<typeof legSchema>;

/** Bar sizes: a number and a unit (`1min`, `5min`, `15min`, `1h`, `4h`, `1d`). */
export const BAR_PATTERN = /^([1-9]\d*)(min|h|d)$/;
export function barMinutes(bar: string): number {
  const m = BAR_PATTERN.exec(bar);
  if (!m) throw new Error(`invalid bar size '${bar}'`);
  const n = Number(m[1]);
  return m[2] === 'min' ? n : m[2] === 'h' ? n * 60 : n * 1440;
}

export const hedgeSchema = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('ols') }),
  z.strictObject({
    method: z.literal('kalman'),
    delta: z.number().gt(0).lt(1),
    ve: positive,
  }),
]);
export type HedgeConfig = z.infer<typeof hedgeSchema>;

export const gateSchema = z.strictObject({
  every: z.number().int().positive(),
  lookback: z.number().int().min(20),
  maxPValue: z.number().gt(0).max(1),
});
export type GateConfig = z.infer<typeof gateSchema>;

export const cointegrationParamsSchema = z
  .strictObject({
    type: z.literal('cointegration'),
    legs: z.strictObject({ y: legSchema, x: legSchema }),
    bar: z.string().regex(BAR_PATTERN, 'a bar size such as 1min, 5min, 15min, 1h or 1d'),
    transform: z.enum(['log', 'none']).default('log'),
    hedge: hedgeSchema.default({ method: 'ols' }),
    lookback: z.number().int().min(3),
    entryZ: positive,
    exitZ: nonNegative,
    stopZ: positive,
    maxHoldingBars: z.number().int().positive().optional(),
    gate: gateSchema.optional(),
    sizing: z.strictObject({ capitalFraction: z.number().gt(0).max(4) }),
    shortMode: z.enum(['hedge', 'long-only']).default('hedge'),
  })
  .superRefine((p, ctx) => {
    // Cross-field rules only once each value is valid on its own (zod still runs this refinement
    // after a field failed, and a second message about the same mistake would only confuse).
    const valid = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (!valid(p.entryZ) || !valid(p.exitZ) || !valid(p.stopZ) || p.entryZ <= 0) return;
    if (!(p.exitZ < p.entryZ)) {
      ctx.addIssue({ code: 'custom', path: ['exitZ'], message: `exitZ (${p.exitZ}) must be below entryZ (${p.entryZ})` });
    }
    if (!(p.stopZ > p.entryZ)) {
      ctx.addIssue({ code: 'custom', path: ['stopZ'], message: `stopZ (${p.stopZ}) must be above entryZ (${p.entryZ})` });
    }
    if (p.legs.y.symbol === p.legs.x.symbol && p.legs.y.secType === p.legs.x.secType) {
      ctx.addIssue({ code: 'custom', path: ['legs', 'x', 'symbol'], message: 'the two legs must be different instruments' });
    }
  });
export type CointegrationParams = z.output<typeof cointegrationParamsSchema>;

export const costsSchema = z
  .strictObject({ slippageBps: nonNegative.max(1000).default(0) })
  .prefault({});
export type CostsConfig = z.output<typeof costsSchema>;
