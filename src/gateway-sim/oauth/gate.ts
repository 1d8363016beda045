/**
 * The simulator's OAuth 1.0a front door, as IBKR's direct API (api.ibkr.com) behaves per its OAuth
 * documentation and RFC 5849:
 *
 *  - `POST /oauth/live_session_token`: RSA-SHA256 signature checked with the uploaded public signing
 *    key over the prepend (the access-token secret, hex) + base string; the client's DH challenge A
 *    is answered with B = g^b mod p; the LST is HMAC-SHA1(K = A^b mod p, secret), never sent — only
 *    its proof `live_session_token_signature` = HMAC-SHA1(LST, consumer key) and its expiry.
 *  - every other API request: HMAC-SHA256 with an issued, unexpired LST. The base string is the RFC's
 *    (query parameters included) or the same without the query (what IBKR's Python users send); either
 *    verifies.
 *  - nonces are single-use within the timestamp window; timestamps outside the window are refused.
 *  - a valid LST opens the SSO (read-only) session; the brokerage session still needs ssodh/init.
 *
 * Refusals are 401s with the `{"error":"id: N, error: …","statusCode":401}` body users report from
 * api.ibkr.com (e.g. "invalid consumer"); an expired token gets the RFC 7807 body of IBKR's OpenAPI
 * ("Access token expired"). The exact wording of IBKR's other refusals is not published.
 */
import { createDiffieHellman, createHmac, verify } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SimCore } from '../core.ts';
import type { ApiResponse } from '../router.ts';
import type { SimOAuthConsumer } from './consumer.ts';
import { baseString, baseUri, parseAuthorization } from './rfc5849.ts';

export const LST_ROUTE = '/oauth/live_session_token';

interface IssuedLst {
  key: Buffer;
  expiresAt: number;
}

function hexToBytes(hex: string): Buffer {
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/** Java BigInteger.toByteArray of an unsigned magnitude: strip zero padding, add a sign byte if needed. */
function javaBytes(padded: Buffer): Buffer {
  let i = 0;
  while (i < padded.length - 1 && padded[i] === 0) i++;
  const b = padded.subarray(i);
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

export class OAuthGate {
  private readonly lsts: IssuedLst[] = [];
  private readonly nonces = new Map<string, number>();
  private errorId = 39_000;
  /** Counters for tests and `/sim/state`. */
  readonly stats = { lstIssued: 0, verified: 0, refused: 0 };

  constructor(
    private readonly core: SimCore,
    readonly consumer: SimOAuthConsumer,
  ) {}

  private refuse(reason: string): ApiResponse {
    this.stats.refused++;
    return { status: 401, body: { error: `id: ${this.errorId++}, error: ${reason}`, statusCode: 401 } };
  }

  /** Checks the common OAuth parameters; returns the refusal or the parsed parameters. */
  private common(req: IncomingMessage, method: string): ApiResponse | Map<string, string> {
    const p = parseAuthorization(req.headers.authorization);
    if (!p) return this.refuse('missing or malformed OAuth authorization header');
    if (p.get('oauth_consumer_key') !== this.consumer.consumerKey) return this.refuse('invalid consumer');
    if (p.get('oauth_token') !== this.consumer.accessToken) return this.refuse('invalid token');
    if (p.get('oauth_signature_method') !== method) return this.refuse(`unsupported signature method, expected ${method}`);
    const ts = Number(p.get('oauth_timestamp'));
    const now = Date.now() / 1000;
    if (!Number.isInteger(ts) || Math.abs(now - ts) > this.consumer.timestampWindowS) return this.refuse('invalid timestamp: outside the accepted window');
    const nonce = p.get('oauth_nonce') ?? '';
    if (nonce.length < 8) return this.refuse('invalid nonce');
    for (const [n, at] of this.nonces) if (at < now - this.consumer.timestampWindowS) this.nonces.delete(n);
    if (this.nonces.has(nonce)) return this.refuse('invalid nonce: already used');
    if (!p.get('oauth_signature')) return this.refuse('missing signature');
    return p;
  }

  private candidates(req: IncomingMessage, method: string, url: URL, p: Map<string, string>, prepend = ''): string[] {
    const uri = baseUri('https', String(req.headers.host ?? ''), url.pathname);
    const oauth = [...p].filter(([k]) => k !== 'realm' && k !== 'oauth_signature');
    const query = [...url.searchParams];
    const variants = query.length ? [[...oauth, ...query], oauth] : [oauth];
    return variants.map((pairs) => prepend + baseString(method, uri, pairs));
  }

  /**
   * Runs before routing. Returns the answer to send (the LST, or a refusal), or undefined when the
   * request is properly signed and may go on to its route.
   */
  handle(req: IncomingMessage, url: URL, apiPath: string): ApiResponse | undefined {
    const method = req.method ?? 'GET';
    if (apiPath === LST_ROUTE) return method === 'POST' ? this.liveSessionToken(req, url) : { status: 405, body: { error: 'Method Not Allowed', statusCode: 405 } };
    const p = this.common(req, 'HMAC-SHA256');
    if (!(p instanceof Map)) return p;
    const sig = Buffer.from(p.get('oauth_signature')!, 'base64');
    const now = Date.now();
    const bases = this.candidates(req, method, url, p);
    const matches = (l: IssuedLst) => bases.some((b) => createHmac('sha256', l.key).update(b, 'utf8').digest().equals(sig));
    const hit = this.lsts.find(matches);
    if (!hit) return this.refuse('invalid signature');
    if (hit.expiresAt <= now) {
      this.stats.refused++;
      return { status: 401, body: { type: '/simple', title: 'Unauthorized', status: 401, detail: 'Access token expired' } };
    }
    this.nonces.set(p.get('oauth_nonce')!, Number(p.get('oauth_timestamp')));
    this.stats.verified++;
    if (!this.core.session.sso) this.core.session.login(this.core.opts.users[0]?.username ?? 'demo', this.core.opts.paper);
    return undefined;
  }

  private liveSessionToken(req: IncomingMessage, url: URL): ApiResponse {
    const p = this.common(req, 'RSA-SHA256');
    if (!(p instanceof Map)) return p;
    const challenge = p.get('diffie_hellman_challenge');
    if (!challenge || !/^[0-9a-f]+$/i.test(challenge)) return this.refuse('missing diffie_hellman_challenge');
    const sig = Buffer.from(p.get('oauth_signature')!, 'base64');
    const ok = this.candidates(req, 'POST', url, p, this.consumer.accessTokenSecretHex).some((b) =>
      verify('sha256', Buffer.from(b, 'utf8'), this.consumer.signingKey, sig),
    );
    if (!ok) return this.refuse('invalid signature');
    this.nonces.set(p.get('oauth_nonce')!, Number(p.get('oauth_timestamp')));
    const dh = createDiffieHellman(hexToBytes(this.consumer.dhPrime.toString(16)), hexToBytes(this.consumer.dhGenerator.toString(16)));
    const response = dh.generateKeys();
    let shared: Buffer;
    try {
      shared = dh.computeSecret(hexToBytes(challenge));
    } catch {
      return this.refuse('invalid diffie_hellman_challenge');
    }
    const lst = createHmac('sha1', javaBytes(shared)).update(Buffer.from(this.consumer.accessTokenSecretHex, 'hex')).digest();
    const expiresAt = Date.now() + this.consumer.lstTtlMs;
    this.lsts.push({ key: lst, expiresAt });
    if (this.lsts.length > 20) this.lsts.shift();
    this.stats.lstIssued++;
    if (!this.core.session.sso) this.core.session.login(this.core.opts.users[0]?.username ?? 'demo', this.core.opts.paper);
    return {
      body: {
        diffie_hellman_response: response.toString('hex').replace(/^0+/, ''),
        live_session_token_signature: createHmac('sha1', lst).update(this.consumer.consumerKey, 'utf8').digest('hex'),
        live_session_token_expiration: expiresAt,
      },
    };
  }

  /** Websocket upgrades need `?oauth_token=<access token>` (IBKR's OAuth websocket URL). */
  acceptsWebsocket(url: URL): boolean {
    return url.searchParams.get('oauth_token') === this.consumer.accessToken;
  }

  /** Makes every issued LST expire now (test hook). */
  expireTokens(): number {
    for (const l of this.lsts) l.expiresAt = Math.min(l.expiresAt, Date.now() - 1);
    return this.lsts.length;
  }
}
