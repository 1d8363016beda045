/**
 * Tells what a config file is, by its shape, unless it says so itself with `kind:`.
 *
 * - strategy config: has `strategy:` and no engine keys (it runs with the default engine config);
 * - engine config: has `strategies:` or engine keys (`gateway:`, `risk:`, `pacing:`, ...) and no `strategy:`;
 * - legacy main config: one file with an `engine:` section (or engine keys) and a `strategy:` section.
 */
import { ConfigError } from './config-error.ts';
import { ENGINE_KEYS } from './engine-schema.ts';
import { locate, type YamlFile } from './yaml-file.ts';

export const CONFIG_KINDS = ['strategy', 'engine', 'main'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

const DECIDING_KEYS =
  'a strategy config has a "strategy:" section; an engine config has "strategies:" or engine sections ' +
  `(${ENGINE_KEYS.slice(0, 5).join(', ')}, ...); a legacy main config has both an "engine:" section and a "strategy:" section`;

export function detectKind(file: YamlFile): ConfigKind {
  const data = file.data;
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{
      file: file.path, line: 1, col: 1,
      message: `the file is ${data == null ? 'empty' : 'not a mapping of keys to values'}, so it is none of the three config kinds (${DECIDING_KEYS})`,
      fix: 'start from one of the files under configs/, or add "kind: strategy|engine|main".',
    }]);
  }
  const keys = new Set(Object.keys(data));
  if (keys.has('kind')) {
    const kind = (data as Record<string, unknown>).kind;
    const normalized = kind === 'legacy' ? 'main' : kind;
    if (typeof normalized === 'string' && (CONFIG_KINDS as readonly string[]).includes(normalized)) return normalized as ConfigKind;
    throw new ConfigError([{
      file: file.path, ...locate(file, ['kind']), keyPath: 'kind',
      message: `unknown config kind ${JSON.stringify(kind)}`,
      fix: `use one of: ${CONFIG_KINDS.join(', ')} (or remove "kind:" to let Tandem tell by the keys).`,
    }]);
  }
  const hasStrategy = keys.has('strategy');
  const hasStrategies = keys.has('strategies');
  const hasEngine = keys.has('engine') || ENGINE_KEYS.some((k) => keys.has(k));
  if (hasStrategy && hasStrategies) {
    throw new ConfigError([{
      file: file.path, ...locate(file, ['strategies']),
      message: 'the file has both "strategy:" (a strategy or main config) and "strategies:" (an engine config), so its kind is ambiguous',
      fix: 'keep one of them, or say which kind it is with "kind: strategy|engine|main".',
    }]);
  }
  if (hasStrategy) return hasEngine ? 'main' : 'strategy';
  if (hasStrategies || hasEngine) return 'engine';
  throw new ConfigError([{
    file: file.path, line: 1, col: 1,
    message: `Tandem cannot tell what kind of config this is: ${DECIDING_KEYS}`,
    fix: 'add the missing section, or say which kind it is with "kind: strategy|engine|main".',
  }]);
}
