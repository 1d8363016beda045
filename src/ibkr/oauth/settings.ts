/**
 * From settings (config values, file paths, environment secrets) to the credentials the signer
 * needs. The access-token secret and the key passphrase come from the environment (`.env`) only, so
 * a config file can be shared without them.
 */
import { join, resolve } from 'node:path';
import { registerSecret } from '../../log/logger.ts';
import { OAuthError } from './errors.ts';
import { OAUTH_FILES } from './keygen.ts';
import { loadDhParams, loadPrivateKey } from './keys.ts';
import type { OAuthCredentials } from './signer.ts';

export const OAUTH_ENV = {
  accessTokenSecret: 'IBKR_OAUTH_ACCESS_TOKEN_SECRET',
  keyPassphrase: 'IBKR_OAUTH_KEY_PASSPHRASE',
} as const;

export interface OAuthSettings {
  consumerKey: string;
  accessToken: string;
  realm: string;
  signatureKeyFile: string;
  encryptionKeyFile: string;
  dhParamFile: string;
}

/** The files, resolved against `cwd`: explicit paths win over the standard names inside keyDir. */
export function oauthFiles(
  o: { keyDir: string; signatureKeyFile?: string; encryptionKeyFile?: string; dhParamFile?: string },
  cwd = process.cwd(),
): Pick<OAuthSettings, 'signatureKeyFile' | 'encryptionKeyFile' | 'dhParamFile'> {
  const dir = resolve(cwd, o.keyDir);
  return {
    signatureKeyFile: resolve(cwd, o.signatureKeyFile ?? join(dir, OAUTH_FILES.signingPrivate)),
    encryptionKeyFile: resolve(cwd, o.encryptionKeyFile ?? join(dir, OAUTH_FILES.encryptionPrivate)),
    dhParamFile: resolve(cwd, o.dhParamFile ?? join(dir, OAUTH_FILES.dhParams)),
  };
}

/** The access-token secret from the environment, or an error saying where to put it. */
export function accessTokenSecretFrom(env: Record<string, string | undefined>): string {
  const secret = env[OAUTH_ENV.accessTokenSecret]?.trim();
  if (!secret) {
    throw new OAuthError(
      'oauth-settings',
      `${OAUTH_ENV.accessTokenSecret} is not set. Fix: add ${OAUTH_ENV.accessTokenSecret}=<the access token secret from IBKR's OAuth page> to .env (never to the config file).`,
    );
  }
  if (!/^[A-Za-z0-9+/=\s]+$/.test(secret)) {
    throw new OAuthError('oauth-settings', `${OAUTH_ENV.accessTokenSecret} is not base64 text. Fix: paste the secret exactly as IBKR's OAuth page shows it.`);
  }
  registerSecret(secret);
  return secret;
}

/** Reads the key files and the secret: everything the signer needs, or one clear error. */
export function loadOAuthCredentials(s: OAuthSettings, env: Record<string, string | undefined>): OAuthCredentials {
  const accessTokenSecret = accessTokenSecretFrom(env);
  const passphrase = env[OAUTH_ENV.keyPassphrase] || undefined;
  registerSecret(passphrase);
  return {
    consumerKey: s.consumerKey,
    accessToken: s.accessToken,
    accessTokenSecret,
    realm: s.realm,
    signingKey: loadPrivateKey(s.signatureKeyFile, 'signing key', 'signatureKeyFile', passphrase),
    encryptionKey: loadPrivateKey(s.encryptionKeyFile, 'encryption key', 'encryptionKeyFile', passphrase),
    dh: loadDhParams(s.dhParamFile),
  };
}
