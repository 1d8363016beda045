/**
 * The OAuth 1.0a connection state: one live session token (LST) per client, obtained, validated and
 * renewed here, and used to sign every request the transport sends.
 *
 *  - The LST request (`POST /oauth/live_session_token`) is RSA-SHA256 signed over a base string
 *    preceded by the prepend (the decrypted access-token secret) and carries our Diffie-Hellman
 *    challenge; the answer's DH response gives the LST, which is only used after the server's
 *    `live_session_token_signature` proves both sides computed the same token.
 *  - Every other request is HMAC-SHA256 signed with the LST, with a fresh nonce and a timestamp that
 *    never goes backwards (IBKR: "greater than or equal to any timestamp used in previous requests").
 *  - The LST is renewed before it expires (by default 10 minutes before, at most half its lifetime),
 *    once for all concurrent callers. A 401 that says the token expired (refused before processing)
 *    drops it, and the transport sends that request once more with a new one.
 *
 * It owns no timers and no session: the brokerage session (`ssodh/init`, `/tickle`) is the Session's
 * job exactly as with the gateway.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { registerSecret } from '../../log/logger.ts';
import type { HttpResponse, HttpTransport, RequestAuthorizer } from '../transport.ts';
import { OAuthError } from './errors.ts';
import type { DhParams } from './keys.ts';
import { computeLiveSessionToken, liveSessionTokenPrepend, newDhExchange, validateLiveSessionToken } from './lst.ts';
import { authorizationHeader, hmacSha256, newNonce, rsaSha256, signatureBaseString } from './signature.ts';

export const LST_PATH = '/oauth/live_session_token';

export interface OAuthCredentials {
  consumerKey: string;
  accessToken: string;
  /** Base64 access-token secret as IBKR's OAuth page shows it (encrypted with our public encryption key). */
  accessTokenSecret: string;
  /** `limited_poa` for a self-registered consumer key; IBKR's `TESTCONS` uses `test_realm`. */
  realm: string;
  signingKey: KeyObject;
  encryptionKey: KeyObject;
  dh: DhParams;
}

export interface OAuthSignerOptions {
  /** Renew this long before the LST expires; default 10 minutes (at most half the LST's lifetime). */
  renewBeforeMs?: number;
  /** Wall clock (ms); tests move it. */
  now?: () => number;
}

export interface LiveSessionToken {
  token: string;
  /** Epoch ms, from the server. */
  expiresAt: number;
  obtainedAt: number;
}

const lstAnswer = z.looseObject({
  diffie_hellman_response: z.string().min(1),
  live_session_token_signature: z.string().min(1),
  live_session_token_expiration: z.coerce.number(),
});

/** What an IBKR 401 says, turned into what the user should do. */
export function oauthRefusalFix(message: string): string {
  if (/consumer/i.test(message)) {
    return 'check oauth.consumerKey; a newly registered key can take a day (sometimes longer, paper logins are reported refused) before IBKR activates it';
  }
  if (/timestamp/i.test(message)) return "the computer's clock is off: sync it (timedatectl set-ntp true) and retry";
  if (/nonce/i.test(message)) return 'a request was replayed; retry (each request gets a fresh nonce)';
  if (/expired/i.test(message)) return 'the live session token expired; the client renews it on the next request (check the clock if this repeats)';
  if (/secret|token/i.test(message)) return 'IBKR_OAUTH_ACCESS_TOKEN_SECRET or oauth.accessToken does not match the OAuth page; generate a new access token there and paste both';
  return 'the signing key does not match the public signing key uploaded to IBKR, or the access token secret/encryption key pair is wrong; run `tandem doctor` for a line-by-line check';
}

const OAUTH_REFUSAL = /consumer|signature|nonce|timestamp|oauth|token|LST/i;

export class OAuthSigner extends EventEmitter<{ renewed: [LiveSessionToken] }> implements RequestAuthorizer {
  private lst: LiveSessionToken | undefined;
  private renewing: Promise<LiveSessionToken> | undefined;
  private lastTimestamp = 0;
  private transport: HttpTransport | undefined;
  private readonly now: () => number;
  private readonly renewBeforeMs: number;

  constructor(
    private readonly creds: OAuthCredentials,
    opts: OAuthSignerOptions = {},
  ) {
    super();
    this.now = opts.now ?? Date.now;
    this.renewBeforeMs = opts.renewBeforeMs ?? 10 * 60_000;
    registerSecret(creds.accessTokenSecret);
    registerSecret(creds.accessToken);
  }

  /** Installs this signer on the transport (every request it sends is signed from now on). */
  attach(transport: HttpTransport): void {
    this.transport = transport;
    transport.setAuthorizer(this);
  }

  get accessToken(): string {
    return this.creds.accessToken;
  }

  get current(): LiveSessionToken | undefined {
    return this.lst;
  }

  /** Forgets the LST: the next request obtains a new one. */
  invalidate(): void {
    this.lst = undefined;
  }

  /** The current LST, obtained or renewed first when missing or about to expire. */
  async liveSessionToken(): Promise<LiveSessionToken> {
    const lst = this.lst;
    if (lst) {
      const margin = Math.min(this.renewBeforeMs, (lst.expiresAt - lst.obtainedAt) / 2);
      if (this.now() < lst.expiresAt - margin) return lst;
    }
    this.renewing ??= this.requestLiveSessionToken().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private timestamp(): string {
    this.lastTimestamp = Math.max(this.lastTimestamp, Math.floor(this.now() / 1000));
    return String(this.lastTimestamp);
  }

  private baseParams(method: 'RSA-SHA256' | 'HMAC-SHA256'): Record<string, string> {
    return {
      oauth_consumer_key: this.creds.consumerKey,
      oauth_nonce: newNonce(),
      oauth_signature_method: method,
      oauth_timestamp: this.timestamp(),
      oauth_token: this.creds.accessToken,
    };
  }

  /** `POST /oauth/live_session_token`: DH exchange, RSA-SHA256 signature, LST computed and validated. */
  async requestLiveSessionToken(): Promise<LiveSessionToken> {
    const transport = this.transport;
    if (!transport) throw new Error('OAuthSigner.attach(transport) was not called');
    const endpoint = `POST ${LST_PATH}`;
    let prepend: string;
    try {
      prepend = liveSessionTokenPrepend(this.creds.accessTokenSecret, this.creds.encryptionKey);
    } catch (err) {
      throw new OAuthError(
        'oauth-secret',
        `The access token secret cannot be decrypted with the private encryption key: ${(err as Error).message}. ` +
          'Fix: IBKR_OAUTH_ACCESS_TOKEN_SECRET in .env must be the secret shown on IBKR\'s OAuth page for the public encryption key you uploaded; ' +
          'oauth.encryptionKeyFile must be the private half of that key.',
        endpoint,
      );
    }
    registerSecret(prepend);
    const dh = newDhExchange(this.creds.dh.prime, this.creds.dh.generator);
    const params = { ...this.baseParams('RSA-SHA256'), diffie_hellman_challenge: dh.challengeHex };
    const url = new URL(transport.base.pathname + LST_PATH, transport.base);
    const base = signatureBaseString('POST', url, Object.entries(params), prepend);
    const header = authorizationHeader(this.creds.realm, { ...params, oauth_signature: rsaSha256(base, this.creds.signingKey) });
    const res = await transport.send({ method: 'POST', path: LST_PATH, headers: { authorization: header } });
    const message = serverMessage(res);
    if (res.status !== 200) {
      throw new OAuthError(
        'oauth-lst-refused',
        `IBKR refused the live session token request (${endpoint}: HTTP ${res.status}${message ? `, "${message}"` : ''}). Fix: ${oauthRefusalFix(message)}.`,
        endpoint,
        res.status >= 500,
        message,
      );
    }
    const parsed = lstAnswer.safeParse(res.json);
    if (!parsed.success) {
      throw new OAuthError('oauth-lst-refused', `The live session token answer lacks its fields (${endpoint}): ${res.text.slice(0, 200)}`, endpoint, true);
    }
    const token = computeLiveSessionToken(this.creds.dh.prime, dh.random, parsed.data.diffie_hellman_response, prepend);
    if (!validateLiveSessionToken(token, this.creds.consumerKey, parsed.data.live_session_token_signature)) {
      throw new OAuthError(
        'oauth-lst-invalid',
        `The live session token computed here does not match IBKR's signature of it (${endpoint}): the access token secret, the private ` +
          'encryption key or the DH parameters are not the ones registered with IBKR. Fix: check IBKR_OAUTH_ACCESS_TOKEN_SECRET, ' +
          'oauth.encryptionKeyFile and oauth.dhParamFile against what you uploaded to IBKR\'s OAuth page.',
        endpoint,
      );
    }
    registerSecret(token);
    this.lst = { token, expiresAt: parsed.data.live_session_token_expiration, obtainedAt: this.now() };
    this.emit('renewed', this.lst);
    return this.lst;
  }

  // ---- RequestAuthorizer ----------------------------------------------------------------------

  async authorize(req: { method: string; url: URL }): Promise<Record<string, string>> {
    const { token } = await this.liveSessionToken();
    const params = this.baseParams('HMAC-SHA256');
    const base = signatureBaseString(req.method, req.url, Object.entries(params));
    return { authorization: authorizationHeader(this.creds.realm, { ...params, oauth_signature: hmacSha256(base, token) }) };
  }

  /**
   * An expired token is refused before the request is processed, so the request is sent once more
   * with a new one (safe even for an order); other refusals become an OAuthError with the fix.
   */
  inspect(res: HttpResponse, endpoint: string, resent = false): 'resend' | void {
    if (res.status !== 401) return;
    const message = serverMessage(res);
    if (!OAUTH_REFUSAL.test(message)) return; // a plain "not authenticated": the session layer handles it
    const expired = /expired/i.test(message);
    if (expired) {
      this.invalidate();
      if (!resent) return 'resend';
    }
    throw new OAuthError(
      'oauth-refused',
      `IBKR refused the OAuth signature of ${endpoint} (HTTP 401, "${message}"). Fix: ${oauthRefusalFix(message)}.`,
      endpoint,
      expired,
      message,
    );
  }
}

function serverMessage(res: HttpResponse): string {
  const j = res.json as Record<string, unknown> | undefined;
  if (j && typeof j === 'object') {
    for (const k of ['error', 'detail', 'message']) if (typeof j[k] === 'string' && j[k]) return j[k];
  }
  return res.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}
