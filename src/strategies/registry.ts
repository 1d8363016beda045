/**
 * Strategies by `type`. A new strategy is one module and one line here: its params schema (the
 * `strategy:` section of a strategy file) and, from the strategy module, its factory.
 */
import type { z } from 'zod';
import { cointegrationParamsSchema } from './cointegration/params.ts';

export interface StrategyDefinition {
  /** Validates the `strategy:` section of a strategy file of this type. */
  paramsSchema: z.ZodType;
}

export const strategyRegistry: Record<string, StrategyDefinition> = {
  cointegration: { paramsSchema: cointegrationParamsSchema },
};

export function strategyTypes(): string[] {
  return Object.keys(strategyRegistry);
}
