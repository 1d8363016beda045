/**
 * The auth settings the login and gateway commands need, from a Tandem config file or, without
 * one, from the engine defaults plus `.env` (so `tandem login` works before any config is written).
 */
import { resolve } from 'node:path';
import { engineSectionSchema } from '../config/engine-schema.ts';
import { credentialsFrom, loadEnv, type Credentials, type Env, type Mode } from '../config/env.ts';
import { loadConfig, type TandemConfig } from '../config/load.ts';
import type { Logger } from '../log/logger.ts';
import { AutoLogin, type AutoLoginOptions } from './auto-login.ts';

export interface AuthSettings {
  /** `gateway.url`. */
  baseUrl: string;
  mode: Mode;
  autoLogin: boolean;
  browserPath: string;
  pushTimeoutSeconds: number;
  dataDir: string;
  credentials: Credentials;
}

export function authSettingsFromConfig(cfg: TandemConfig): AuthSettings {
  return {
    baseUrl: cfg.engine.gateway.url,
    mode: cfg.mode,
    autoLogin: cfg.engine.auth.autoLogin,
    browserPath: cfg.engine.auth.browserPath,
    pushTimeoutSeconds: cfg.engine.auth.pushTimeoutSeconds,
    dataDir: cfg.engine.dataDir,
    credentials: cfg.credentials,
  };
}

export interface ResolveAuthOptions {
  config?: string;
  mode?: Mode;
  /** Overrides `gateway.url`. */
  gateway?: string;
  /** Overrides `dataDir`. */
  dataDir?: string;
  env?: Env;
  cwd?: string;
}

export function resolveAuthSettings(o: ResolveAuthOptions = {}): AuthSettings {
  const cwd = o.cwd ?? process.cwd();
  let s: AuthSettings;
  if (o.config) {
    s = authSettingsFromConfig(loadConfig(o.config, { ...(o.mode ? { mode: o.mode } : {}), ...(o.env ? { env: o.env } : {}), cwd }));
  } else {
    const engine = engineSectionSchema.parse({});
    const env = o.env ?? loadEnv(resolve(cwd, '.env'));
    s = {
      baseUrl: engine.gateway.url,
      mode: o.mode ?? engine.mode,
      autoLogin: engine.auth.autoLogin,
      browserPath: engine.auth.browserPath,
      pushTimeoutSeconds: engine.auth.pushTimeoutSeconds,
      dataDir: resolve(cwd, engine.dataDir),
      credentials: credentialsFrom(env),
    };
  }
  if (o.gateway) s.baseUrl = o.gateway;
  if (o.dataDir) s.dataDir = resolve(cwd, o.dataDir);
  return s;
}

export function createAutoLogin(s: AuthSettings, logger: Logger, over: Partial<AutoLoginOptions> = {}): AutoLogin {
  return new AutoLogin({
    baseUrl: s.baseUrl,
    credentials: s.credentials,
    mode: s.mode,
    browserPath: s.browserPath,
    dataDir: s.dataDir,
    pushTimeoutMs: s.pushTimeoutSeconds * 1000,
    logger,
    ...over,
  });
}
