/**
 * Strategies by `type`. A new strategy is one module and one line here: its params schema (the
 * `strategy:` section of a strategy file) and its factory.
 */
import type { z } from 'zod';
import { cointegrationParamsSchema } from './cointegration/params.ts';
import { createCointegrationStrategy } from './cointegration/strategy.ts';
import type { Strategy, StrategyState } from './types.ts';

export interface StrategyDefinition<S extends z.ZodType = z.ZodType> {
  /** Validates the `strategy:` section of a strategy file of this type. */
  paramsSchema: S;
  /** A new strategy from validated params, or one resumed from a saved state. */
  create(params: z.output<S>, state?: StrategyState): Strategy;
}

/** Ties a factory's parameter type to its schema. */
export function defineStrategy<S extends z.ZodType>(def: StrategyDefinition<S>): StrategyDefinition<S> {
  return def;
}

export const strategyRegistry: Record<string, StrategyDefinition> = {
  cointegration: defineStrategy({ paramsSchema: cointegrationParamsSchema, create: createCointegrationStrategy }) as StrategyDefinition,
};

export function strategyTypes(): string[] {
  return Object.keys(strategyRegistry);
}

/**
 * Validates raw params against the schema of their `type` and builds the strategy (resumed from
 * `state` when given). Throws the schema's error on invalid params; callers holding a file turn
 * it into a file:line:col UserError (src/config/).
 */
export function createStrategy(rawParams: { type: string } & Record<string, unknown>, state?: StrategyState): Strategy {
  const def = strategyRegistry[rawParams.type];
  if (!def) throw new Error(`unknown strategy type '${rawParams.type}' (known: ${strategyTypes().join(', ')})`);
  return def.create(def.paramsSchema.parse(rawParams), state);
}
