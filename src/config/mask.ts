/**
 * The printable form of a resolved config (`tandem config show`): secrets replaced, account ids
 * shortened, so the output can be pasted into a bug report.
 */
import { stringify } from 'yaml';
import type { Credentials } from './env.ts';
import { ENV_VARS } from './env.ts';
import type { TandemConfig } from './load.ts';

/** The printable config as YAML text. */
export function printableYaml(printable: unknown): string {
  return stringify(printable);
}

export function maskAccountId(id: string | undefined): string {
  if (!id) return '(not set)';
  return id.length <= 4 ? '****' : `${id.slice(0, 2)}${'*'.repeat(id.length - 4)}${id.slice(-2)}`;
}

function maskCredentials(c: Credentials): Record<string, string> {
  return {
    [ENV_VARS.username]: c.username ? '***' : '(not set)',
    [ENV_VARS.password]: c.password ? '***' : '(not set)',
    [ENV_VARS.totpSecret]: c.totpSecret ? '***' : '(not set)',
    [ENV_VARS.paperAccountId]: maskAccountId(c.paperAccountId),
    [ENV_VARS.liveAccountId]: maskAccountId(c.liveAccountId),
  };
}

export function printableConfig(cfg: TandemConfig): Record<string, unknown> {
  const account = cfg.mode === 'paper' ? cfg.credentials.paperAccountId : cfg.credentials.liveAccountId;
  return {
    kind: cfg.kind,
    configFile: cfg.configFile,
    engineFile: cfg.engineFile ?? '(built-in defaults)',
    mode: cfg.mode,
    account: account ? maskAccountId(account) : `(not set: ${cfg.mode === 'paper' ? ENV_VARS.paperAccountId : ENV_VARS.liveAccountId})`,
    environment: maskCredentials(cfg.credentials),
    // The OAuth access token is half a credential (its secret lives in .env): not for bug reports.
    engine: cfg.engine.oauth.accessToken ? { ...cfg.engine, oauth: { ...cfg.engine.oauth, accessToken: '***' } } : cfg.engine,
    strategies: cfg.strategies.map((s) => ({ file: s.file, name: s.name, strategy: s.strategy, costs: s.costs })),
  };
}
