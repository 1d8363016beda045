/**
 * Loads what `--config FILE` names into one resolved config: the engine settings (from the file
 * itself, or from the default engine config when FILE is a strategy config), the strategies, the
 * mode (`--mode` wins over the file) and the credentials from the environment.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { packageRoot } from '../util/package-root.ts';
import { ConfigError } from './config-error.ts';
import { detectKind, type ConfigKind } from './detect.ts';
import { engineFileSchema, engineSectionSchema, ENGINE_KEYS, type EngineConfig } from './engine-schema.ts';
import { credentialsFrom, interpolateEnv, loadEnv, type Credentials, type Env, type Mode } from './env.ts';
import { parseStrategy, type StrategyConfig } from './strategy-file.ts';
import { validate } from './validate.ts';
import { locate, parseYaml, readYamlFile, type YamlFile } from './yaml-file.ts';

export const DEFAULT_ENGINE_CONFIG = join('configs', 'engine', 'Engine.yaml');
/** The project's own copy, found relative to this module, for `tandem` run from another directory. */

/** Engine settings with every path made absolute. */
export interface ResolvedEngineConfig extends EngineConfig {
  dataDir: string;
  journal: { path: string };
  risk: EngineConfig['risk'] & { killSwitchFile: string };
}

export interface TandemConfig {
  kind: ConfigKind;
  /** The file given with --config. */
  configFile: string;
  /** The file the engine settings came from (`null`: built-in defaults). */
  engineFile: string | null;
  engine: ResolvedEngineConfig;
  /** The strategies to run, with their node settings from the engine config's `strategies:` list. */
  strategies: NodeStrategyConfig[];
  mode: Mode;
  credentials: Credentials;
}

/** A strategy config plus the node settings of its entry in the engine config (issue 13). */
export type NodeStrategyConfig = StrategyConfig & { capitalShare?: number; allowSharedContracts?: boolean };

export interface LoadOptions {
  /** `--mode`; overrides the config's `mode`. */
  mode?: Mode;
  /** The `.env` file; default `.env` in the current directory. */
  envFile?: string;
  /** Use this environment instead of `.env` + process.env (tests). */
  env?: Env;
  /** The engine config used with a strategy config; default configs/engine/Engine.yaml; null: built-in defaults. */
  defaultEngineConfig?: string | null;
  cwd?: string;
}

function resolveEnginePaths(engine: EngineConfig, cwd: string, configDir: string): ResolvedEngineConfig {
  const dataDir = resolve(cwd, engine.dataDir);
  const tls = { ...engine.gateway.tls };
  if (tls.caFile) tls.caFile = resolve(configDir, tls.caFile);
  return {
    ...engine,
    gateway: { ...engine.gateway, tls },
    dataDir,
    journal: { path: engine.journal.path ? resolve(cwd, engine.journal.path) : join(dataDir, 'journal.sqlite') },
    risk: { ...engine.risk, killSwitchFile: isAbsolute(engine.risk.killSwitchFile) ? engine.risk.killSwitchFile : join(dataDir, engine.risk.killSwitchFile) },
    logging: { ...engine.logging, ...(engine.logging.file ? { file: resolve(cwd, engine.logging.file) } : {}) },
  };
}

function findDefaultEngineConfig(opts: LoadOptions, cwd: string): string | null {
  if (opts.defaultEngineConfig === null) return null;
  if (opts.defaultEngineConfig) return resolve(cwd, opts.defaultEngineConfig);
  for (const candidate of [resolve(cwd, DEFAULT_ENGINE_CONFIG), join(packageRoot(), DEFAULT_ENGINE_CONFIG)]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

function asRecord(data: unknown): Record<string, unknown> {
  return data as Record<string, unknown>;
}

type StrategyEntry = { file: string; capitalShare?: number | undefined; allowSharedContracts?: boolean | undefined };

function readEngineFile(file: YamlFile, env: Env): { engine: EngineConfig; strategyFiles: StrategyEntry[] } {
  const parsed = validate(file, engineFileSchema, interpolateEnv(file, env));
  const { strategies, kind: _kind, ...engine } = parsed;
  return { engine, strategyFiles: strategies.map((s) => (typeof s === 'string' ? { file: s } : s)) };
}

export function loadConfig(configPath: string, opts: LoadOptions = {}): TandemConfig {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? loadEnv(opts.envFile ?? resolve(cwd, '.env'));
  const credentials = credentialsFrom(env);
  const file = readYamlFile(resolve(cwd, configPath), configPath);
  const kind = detectKind(file);

  let engine: EngineConfig;
  let engineFile: string | null;
  let engineDir: string;
  let strategies: NodeStrategyConfig[];

  if (kind === 'strategy') {
    const data = asRecord(interpolateEnv(file, env));
    strategies = [parseStrategy(file, data)];
    engineFile = findDefaultEngineConfig(opts, cwd);
    if (engineFile) {
      const engineYaml = readYamlFile(engineFile);
      engine = readEngineFile(engineYaml, env).engine;
      engineDir = dirname(engineFile);
    } else {
      engine = engineSectionSchema.parse({});
      engineDir = cwd;
    }
  } else if (kind === 'engine') {
    const read = readEngineFile(file, env);
    engine = read.engine;
    engineFile = configPath;
    engineDir = dirname(resolve(cwd, configPath));
    if (read.strategyFiles.length === 0) {
      throw new ConfigError([{
        file: configPath, ...locate(file, ['strategies']), keyPath: 'strategies',
        message: 'the engine config names no strategy file, so there is nothing to run',
        fix: 'add "strategies: [../strategies/cointegration_etha_ethv.yaml]" (paths relative to this file), or pass a strategy config to --config.',
      }]);
    }
    strategies = read.strategyFiles.map((entry, i) => {
      const rel = entry.file;
      const path = resolve(engineDir, rel);
      if (!existsSync(path)) {
        throw new ConfigError([{
          file: configPath, ...locate(file, ['strategies', i]), keyPath: `strategies[${i}]`,
          message: `the strategy file "${rel}" does not exist (looked for ${path})`,
          fix: 'strategy paths are relative to the engine config file; correct the path.',
        }]);
      }
      const sf = readYamlFile(path);
      const sKind = detectKind(sf);
      if (sKind !== 'strategy') {
        throw new ConfigError([{ file: path, line: 1, col: 1, message: `this is a ${sKind} config, but ${configPath} lists it as a strategy file`, fix: 'list only strategy configs under "strategies:".' }]);
      }
      return {
        ...parseStrategy(sf, asRecord(interpolateEnv(sf, env))),
        ...(entry.capitalShare !== undefined ? { capitalShare: entry.capitalShare } : {}),
        ...(entry.allowSharedContracts !== undefined ? { allowSharedContracts: entry.allowSharedContracts } : {}),
      };
    });
  } else {
    // Legacy main config: an `engine:` section (or engine keys at the top level) and a strategy section.
    const data = asRecord(interpolateEnv(file, env));
    const { strategy, name, costs, kind: _k, engine: engineSection, ...rest } = data;
    const strategyPart: Record<string, unknown> = { strategy, ...(name !== undefined ? { name } : {}), ...(costs !== undefined ? { costs } : {}) };
    strategies = [parseStrategy(file, strategyPart)];
    if (engineSection !== undefined) {
      const unknownTop = Object.keys(rest);
      if (unknownTop.length) {
        const k = unknownTop[0]!;
        throw new ConfigError([{
          file: configPath, ...locate(file, [], k), keyPath: k,
          message: `unknown key "${k}" in a main config that has an "engine:" section`,
          fix: ENGINE_KEYS.includes(k) ? `move "${k}" under "engine:".` : 'remove it, or move it under "engine:" or "strategy:".',
        }]);
      }
      engine = validate(file, engineSectionSchema, engineSection ?? {}, ['engine']);
    } else {
      engine = validate(file, engineSectionSchema, rest);
    }
    engineFile = configPath;
    engineDir = dirname(resolve(cwd, configPath));
  }

  const mode = opts.mode ?? engine.mode;
  return {
    kind,
    configFile: configPath,
    engineFile,
    engine: resolveEnginePaths({ ...engine, mode }, cwd, engineDir),
    strategies,
    mode,
    credentials,
  };
}

/** Loads a single strategy file (backtests, scans): a strategy config, or the strategy of a main config. */
export function loadStrategyFile(path: string, opts: { env?: Env; cwd?: string } = {}): StrategyConfig {
  const file = readYamlFile(resolve(opts.cwd ?? process.cwd(), path), path);
  const kind = detectKind(file);
  const env = opts.env ?? process.env;
  const data = asRecord(interpolateEnv(file, env));
  if (kind === 'strategy') return parseStrategy(file, data);
  if (kind === 'main') {
    const { strategy, name, costs } = data;
    return parseStrategy(file, { strategy, ...(name !== undefined ? { name } : {}), ...(costs !== undefined ? { costs } : {}) });
  }
  throw new ConfigError([{
    file: path, line: 1, col: 1, message: 'this is an engine config, but a strategy config is needed here',
    fix: 'pass a strategy file, e.g. configs/strategies/cointegration_etha_ethv.yaml.',
  }]);
}

/** Parses YAML text as a config of any kind (tests and tools). */
export { parseYaml };
