/**
 * A strategy config file: `name`, the `strategy:` section (validated by the schema its `type`
 * registers) and `costs:`. The same parser reads the strategy half of a legacy main config.
 */
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { costsSchema, type CostsConfig } from '../strategies/cointegration/params.ts';
import { strategyRegistry, strategyTypes } from '../strategies/registry.ts';
import { ConfigError } from './config-error.ts';
import { validate } from './validate.ts';
import { locate, type KeyPath, type YamlFile } from './yaml-file.ts';

export interface StrategyConfig<P = Record<string, unknown>> {
  /** The file it came from. */
  file: string;
  name: string;
  /** The validated `strategy:` section, with defaults applied (e.g. CointegrationParams). */
  strategy: P & { type: string };
  costs: CostsConfig;
}

const strategyFileShape = z.strictObject({
  kind: z.literal('strategy').optional(),
  name: z.string().trim().min(1).optional(),
  strategy: z.looseObject({ type: z.string().trim().min(1) }),
  costs: costsSchema,
});

/** Reads the strategy part of `data` (the whole file, or the strategy half of a main config). */
export function parseStrategy(file: YamlFile, data: Record<string, unknown>, base: KeyPath = []): StrategyConfig {
  const top = validate(file, strategyFileShape, data, base);
  const def = strategyRegistry[top.strategy.type];
  if (!def) {
    const path = [...base, 'strategy', 'type'];
    throw new ConfigError([{
      file: file.path, ...locate(file, path), keyPath: 'strategy.type',
      message: `unknown strategy type "${top.strategy.type}"`,
      fix: `use one of: ${strategyTypes().join(', ')}.`,
    }]);
  }
  const strategy = validate(file, def.paramsSchema, data.strategy, [...base, 'strategy']) as StrategyConfig['strategy'];
  return {
    file: file.path,
    name: top.name ?? basename(file.path, extname(file.path)),
    strategy,
    costs: top.costs,
  };
}
