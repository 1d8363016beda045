/**
 * Strategies by `type`. A new strategy is one module and one line here: its params schema (the
 * `strategy:` section of a strategy file), its factory, and its requirements (legs, bar size,
 * warm-up length, short rules): the one declaration every driver reads.
 */
import type { z } from 'zod';
import { cointegrationParamsSchema } from './cointegration/params.ts';
import { cointegrationRequirements, createCointegrationStrategy } from './cointegration/strategy.ts';
import type { Strategy, StrategyRequirements, StrategyState } from './types.ts';

export interface StrategyDefinition<S extends z.ZodType = z.ZodType> {
  /** Validates the `strategy:` section of a strategy file of this type. */
  paramsSchema: S;
  /** A new strategy from validated params, or one resumed from a saved state. */
  create(params: z.output<S>, state?: StrategyState): Strategy;
  /** What a strategy of these params needs from its driver (legs, bar size, warm-up, short rules). */
  requirements(params: z.output<S>): StrategyRequirements;
}

/** Ties a factory's parameter type to its schema. */
export function defineStrategy<S extends z.ZodType>(def: StrategyDefinition<S>): StrategyDefinition<S> {
  return def;
}

export const strategyRegistry: Record<string, StrategyDefinition> = {
  cointegration: defineStrategy({ paramsSchema: cointegrationParamsSchema, create: createCointegrationStrategy, requirements: cointegrationRequirements }) as StrategyDefinition,
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
  const def = definitionOf(rawParams.type);
  return def.create(def.paramsSchema.parse(rawParams), state);
}

/** The requirements a strategy of these params declares (validated like `createStrategy`). */
export function strategyRequirements(rawParams: { type: string } & Record<string, unknown>): StrategyRequirements {
  const def = definitionOf(rawParams.type);
  return def.requirements(def.paramsSchema.parse(rawParams));
}

function definitionOf(type: string): StrategyDefinition {
  const def = strategyRegistry[type];
  if (!def) throw new Error(`unknown strategy type '${type}' (known: ${strategyTypes().join(', ')})`);
  return def;
}
