/**
 * Credentials and accounts from the environment: `.env` (read with dotenv, never written) and the
 * process environment, which wins. The account follows the mode. Secret values are registered with
 * the logger so they can never be printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { registerSecret, registerUrlSecrets, SECRET_NAME } from '../util/secrets.ts';
import { UserError } from '../util/errors.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { locate, type KeyPath, type YamlFile } from './yaml-file.ts';

export type Env = Record<string, string | undefined>;

export interface Credentials {
  username?: string;
  password?: string;
  totpSecret?: string;
  paperAccountId?: string;
  liveAccountId?: string;
}

export const ENV_VARS = {
  username: 'IBKR_USERNAME',
  password: 'IBKR_PASSWORD',
  totpSecret: 'IBKR_TOTP_SECRET',
  paperAccountId: 'IBKR_PAPER_ACCOUNT_ID',
  liveAccountId: 'IBKR_LIVE_ACCOUNT_ID',
} as const;

/** `.env` (if present) overlaid by the process environment. */
export function loadEnv(envFile = '.env', processEnv: Env = process.env): Env {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return { ...fromFile, ...processEnv };
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

export function credentialsFrom(env: Env): Credentials {
  const c: Credentials = {};
  for (const [key, name] of Object.entries(ENV_VARS) as [keyof Credentials, string][]) {
    const v = nonEmpty(env[name]);
    if (v !== undefined) c[key] = v;
  }
  registerSecret(c.username);
  registerSecret(c.password);
  registerSecret(c.totpSecret);
  return c;
}

/** Paper accounts are `DU…` (individual) or `DF…` (advisor master); live accounts are `U…`/`F…`/`I…`. */
export function isPaperAccountId(id: string): boolean {
  return /^D[UF]/i.test(id);
}

export type Mode = 'paper' | 'live';

/** The account id for the mode, checked against the kind of account the mode needs. */
export function accountForMode(mode: Mode, creds: Credentials): string {
  const variable = mode === 'paper' ? ENV_VARS.paperAccountId : ENV_VARS.liveAccountId;
  const id = mode === 'paper' ? creds.paperAccountId : creds.liveAccountId;
  if (!id) {
    throw new UserError(
      `${variable} is not set, and ${mode} mode trades the account it names. ` +
        `Fix: add ${variable}=<your ${mode} account id> to .env (see .env.example) or export it in the environment.`,
      'TANDEM_CONFIG_INVALID',
    );
  }
  if (mode === 'paper' && !isPaperAccountId(id)) {
    throw new UserError(
      `${variable} is "${id}", which is not a paper account (paper account ids start with DU). ` +
        'Paper mode refuses to trade a live account. Fix: set the paper account id, or run with --mode live.',
      'TANDEM_CONFIG_INVALID',
    );
  }
  if (mode === 'live' && isPaperAccountId(id)) {
    throw new UserError(
      `${variable} is "${id}", which is a paper account (it starts with DU). Live mode refuses a paper account. ` +
        'Fix: set your live account id (it starts with U), or run in paper mode.',
      'TANDEM_CONFIG_INVALID',
    );
  }
  return id;
}

const VAR_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` (or `${NAME:-default}`) in every string of a config with the variable's value;
 * a variable that is not set and has no default is an error at its line and column.
 */
export function interpolateEnv(file: YamlFile, env: Env): unknown {
  const problems: ConfigProblem[] = [];
  const walk = (value: unknown, path: KeyPath): unknown => {
    if (typeof value === 'string') {
      const out = value.replace(VAR_PATTERN, (_m, name: string, fallback: string | undefined) => {
        const v = env[name];
        // A secret put into a config value (e.g. a URL) must never be shown back: scrubbed everywhere.
        if (v !== undefined && v !== '' && SECRET_NAME.test(name)) registerSecret(v);
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        problems.push({
          file: file.path, ...locate(file, path), keyPath: path.join('.'),
          message: `the environment variable ${name} is not set`,
          fix: `set ${name} in .env or in the environment, or write \${${name}:-default} to give a default.`,
        });
        return '';
      });
      registerUrlSecrets(out);
      return out;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  const out = walk(file.data, []);
  if (problems.length) throw new ConfigError(problems);
  return out;
}
