/**
 * `tandem doctor` lines for an OAuth connection, one per thing that can be wrong, each with its fix:
 * settings present → key files readable and parsed → the access-token secret decrypts → live session
 * token obtained and validated. The brokerage session and account lines that follow are the same as
 * through the gateway.
 */
import type { DoctorLine } from '../doctor.ts';
import type { IbkrClient } from '../client.ts';
import { GatewayTimeoutError, GatewayUnreachableError, IbkrError } from '../errors.ts';
import { OAuthError } from './errors.ts';
import { loadDhParams, loadPrivateKey } from './keys.ts';
import { liveSessionTokenPrepend } from './lst.ts';
import { accessTokenSecretFrom, OAUTH_ENV, type OAuthSettings } from './settings.ts';
import type { OAuthCredentials } from './signer.ts';

function fail(check: string, err: unknown): DoctorLine {
  const msg = err instanceof Error ? err.message : String(err);
  const [detail, fix] = msg.split(' Fix: ');
  return { check, status: 'fail', detail: detail ?? msg, ...(fix ? { fix } : {}) };
}

/** The offline checks; `credentials` is set when all of them passed. */
export function oauthFileChecks(s: OAuthSettings, env: Record<string, string | undefined>): { lines: DoctorLine[]; credentials?: OAuthCredentials } {
  const lines: DoctorLine[] = [];
  const missing = [!s.consumerKey && 'oauth.consumerKey', !s.accessToken && 'oauth.accessToken'].filter(Boolean);
  let secret: string | undefined;
  try {
    secret = accessTokenSecretFrom(env);
  } catch (err) {
    lines.push(fail('OAuth settings', err));
  }
  if (missing.length) {
    lines.push({ check: 'OAuth settings', status: 'fail', detail: `${missing.join(' and ')} not set`, fix: "copy them from IBKR's OAuth page into the engine config (docs/oauth.md)." });
  }
  if (lines.length === 0) lines.push({ check: 'OAuth settings', status: 'ok', detail: `consumer key ${s.consumerKey}, realm ${s.realm}, access token set, ${OAUTH_ENV.accessTokenSecret} set` });
  const passphrase = env[OAUTH_ENV.keyPassphrase] || undefined;
  const keys: Partial<Pick<OAuthCredentials, 'signingKey' | 'encryptionKey' | 'dh'>> = {};
  const fileCheck = (check: string, file: string, load: () => void, detail: () => string) => {
    try {
      load();
      lines.push({ check, status: 'ok', detail: `${file}: ${detail()}` });
    } catch (err) {
      lines.push(fail(check, err));
    }
  };
  fileCheck('OAuth signing key', s.signatureKeyFile, () => (keys.signingKey = loadPrivateKey(s.signatureKeyFile, 'signing key', 'signatureKeyFile', passphrase)), () => `RSA ${keys.signingKey!.asymmetricKeyDetails?.modulusLength ?? '?'} bits`);
  fileCheck('OAuth encryption key', s.encryptionKeyFile, () => (keys.encryptionKey = loadPrivateKey(s.encryptionKeyFile, 'encryption key', 'encryptionKeyFile', passphrase)), () => `RSA ${keys.encryptionKey!.asymmetricKeyDetails?.modulusLength ?? '?'} bits`);
  fileCheck('OAuth DH parameters', s.dhParamFile, () => (keys.dh = loadDhParams(s.dhParamFile)), () => `${keys.dh!.prime.toString(2).length}-bit prime, generator ${keys.dh!.generator}`);
  if (secret && keys.encryptionKey) {
    try {
      liveSessionTokenPrepend(secret, keys.encryptionKey);
      lines.push({ check: 'OAuth access token secret', status: 'ok', detail: 'decrypts with the private encryption key' });
    } catch (err) {
      lines.push({
        check: 'OAuth access token secret', status: 'fail', detail: `does not decrypt with ${s.encryptionKeyFile}: ${(err as Error).message}`,
        fix: `${OAUTH_ENV.accessTokenSecret} must be the secret IBKR's page showed for the public encryption key you uploaded; generate a new access token there if unsure.`,
      });
    }
  }
  const ok = lines.every((l) => l.status === 'ok') && secret && keys.signingKey && keys.encryptionKey && keys.dh;
  return ok
    ? { lines, credentials: { consumerKey: s.consumerKey, accessToken: s.accessToken, accessTokenSecret: secret!, realm: s.realm, signingKey: keys.signingKey!, encryptionKey: keys.encryptionKey!, dh: keys.dh! } }
    : { lines };
}

/** Obtains and validates a live session token through the client's signer. */
export async function liveSessionTokenLine(client: IbkrClient): Promise<DoctorLine> {
  const check = 'live session token';
  try {
    const lst = await client.oauth!.liveSessionToken();
    return { check, status: 'ok', detail: `obtained from ${client.baseUrl} and validated; expires ${new Date(lst.expiresAt).toISOString()}` };
  } catch (err) {
    if (err instanceof GatewayUnreachableError || err instanceof GatewayTimeoutError) {
      return { check, status: 'fail', detail: err instanceof GatewayUnreachableError ? `${client.baseUrl}: ${err.reason}` : `no answer within ${err.timeoutMs} ms`, fix: 'check the network and oauth.url in the config (https://api.ibkr.com by default).' };
    }
    if (err instanceof OAuthError || err instanceof IbkrError) return fail(check, err);
    throw err;
  }
}
