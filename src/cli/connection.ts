/**
 * The connection part of an IBKR client built from the engine config: the gateway URL and TLS pin,
 * or (connection: oauth) IBKR's API URL and the OAuth credentials (key files + the secret from
 * `.env`), plus the pacing budget and ceiling of the mode. `tandem run`, `doctor` and `history`
 * share it so the two modes cannot drift apart.
 */
import type { ResolvedEngineConfig } from '../config/load.ts';
import { loadEnv } from '../config/env.ts';
import type { IbkrClientOptions } from '../ibkr/client.ts';
import { loadOAuthCredentials, oauthFiles, type OAuthSettings } from '../ibkr/oauth/index.ts';

export type ConnectionOptions = Pick<IbkrClientOptions, 'baseUrl' | 'tls' | 'timeoutMs' | 'maxRequestsPerSecond' | 'maxRequestsCeiling' | 'oauth'>;

export function oauthSettingsOf(engine: Pick<ResolvedEngineConfig, 'oauth'>): OAuthSettings {
  const o = engine.oauth;
  return { consumerKey: o.consumerKey ?? '', accessToken: o.accessToken ?? '', realm: o.realm, ...oauthFiles(o) };
}

export function connectionOptions(engine: ResolvedEngineConfig, env = loadEnv()): ConnectionOptions {
  const pacing = { timeoutMs: engine.gateway.timeoutMs, maxRequestsPerSecond: engine.pacing.maxRequestsPerSecond, maxRequestsCeiling: engine.pacing.ceiling };
  if (engine.connection !== 'oauth') return { baseUrl: engine.gateway.url, tls: engine.gateway.tls, ...pacing };
  return { baseUrl: engine.oauth.url, tls: undefined, ...pacing, oauth: loadOAuthCredentials(oauthSettingsOf(engine), env) };
}
