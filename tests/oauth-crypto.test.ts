/**
 * The OAuth building blocks against published values where they exist (RFC 5849's example base
 * string, RFC 3526's group 14 prime) and against independent computations where they do not: IBKR
 * publishes no live-session-token test vector, so the client's BigInt arithmetic is checked against
 * Node's own Diffie-Hellman (as the simulator computes it) and pinned by a fixed regression vector.
 */
import { describe, expect, it } from 'vitest';
import { constants, createDiffieHellman, createHmac, generateKeyPairSync, getDiffieHellman, publicEncrypt, randomBytes } from 'node:crypto';
import { baseString as simBaseString, parseAuthorization } from '../src/gateway-sim/oauth/rfc5849.ts';
import { readDhParams } from '../src/gateway-sim/oauth/consumer.ts';
import { authorizationHeader, normalizeParams, percentEncode, signatureBaseString } from '../src/ibkr/oauth/signature.ts';
import { bigFromBytes, computeLiveSessionToken, javaBigIntegerBytes, liveSessionTokenPrepend, liveSessionTokenSignature, modPow, validateLiveSessionToken } from '../src/ibkr/oauth/lst.ts';
import { dhParamsToPem, parseDhParamsPem } from '../src/ibkr/oauth/keys.ts';
import { DIRECT_ACCESS_RATE_LIMIT, engineSectionSchema } from '../src/config/engine-schema.ts';

/** RFC 5849 §3.4.1.1: the request of the example, decoded, and the base string the RFC prints. */
const RFC_PARAMS: [string, string][] = [
  ['b5', '=%3D'], ['a3', 'a'], ['c@', ''], ['a2', 'r b'], ['c2', ''], ['a3', '2 q'],
  ['oauth_consumer_key', '9djdj82h48djs9d2'], ['oauth_token', 'kkk9d7dh3k39sjv7'], ['oauth_signature_method', 'HMAC-SHA1'],
  ['oauth_timestamp', '137131201'], ['oauth_nonce', '7d8f3e4a'],
];
const RFC_BASE =
  'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q' +
  '%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_' +
  'key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m' +
  'ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk' +
  '9d7dh3k39sjv7';

describe('RFC 5849 signature base string', () => {
  it('the client and the simulator both print the RFC example exactly', () => {
    expect(normalizeParams(RFC_PARAMS)).toBe(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a' +
        '&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    );
    expect(signatureBaseString('POST', new URL('http://EXAMPLE.com:80/request?ignored=1'), RFC_PARAMS)).toBe(RFC_BASE);
    expect(simBaseString('POST', 'http://example.com/request', RFC_PARAMS)).toBe(RFC_BASE);
    expect(percentEncode("!*'() ~")).toBe('%21%2A%27%28%29%20~');
  });

  it('the header the client writes is the header the simulator reads', () => {
    const params = { oauth_consumer_key: 'K', oauth_nonce: 'n0nce1234', oauth_signature: 'a+b/c==', oauth_timestamp: '1', oauth_token: 'tok' };
    const parsed = parseAuthorization(authorizationHeader('limited_poa', params))!;
    expect(Object.fromEntries(parsed)).toEqual({ realm: 'limited_poa', ...params });
    expect(authorizationHeader('limited_poa', params)).toContain('oauth_signature="a%2Bb%2Fc%3D%3D"');
    expect(parseAuthorization('Bearer x')).toBeUndefined();
    expect(parseAuthorization('OAuth realm="x", junk')).toBeUndefined();
  });
});

describe('live session token arithmetic', () => {
  const modp14 = getDiffieHellman('modp14');
  const prime = bigFromBytes(modp14.getPrime());

  it('the DH parameter PEM round-trips and matches RFC 3526 group 14', () => {
    const pem = dhParamsToPem({ prime, generator: 2n });
    expect(parseDhParamsPem(pem)).toEqual({ prime, generator: 2n });
    expect(readDhParams(pem)).toEqual({ prime, generator: 2n }); // the simulator's own reader
    expect(prime.toString(16).slice(0, 16)).toBe('ffffffffffffffff');
    expect(prime.toString(16).length).toBe(512);
  });

  it('Java BigInteger bytes: a sign byte only when the top bit is set', () => {
    expect(javaBigIntegerBytes(0x7fn).toString('hex')).toBe('7f');
    expect(javaBigIntegerBytes(0x80n).toString('hex')).toBe('0080');
    expect(javaBigIntegerBytes(0x1ffn).toString('hex')).toBe('01ff');
  });

  it('the client LST equals the one computed with Node\'s DH on the server side, and validates', () => {
    for (let i = 0; i < 8; i++) {
      const a = bigFromBytes(randomBytes(32));
      const server = createDiffieHellman(modp14.getPrime(), modp14.getGenerator());
      const B = server.generateKeys();
      const A = modPow(2n, a, prime);
      const shared = server.computeSecret(Buffer.from(A.toString(16).padStart(512, '0'), 'hex'));
      const secret = randomBytes(32);
      const kBytes = javaBigIntegerBytes(bigFromBytes(shared));
      const serverLst = createHmac('sha1', kBytes).update(secret).digest('base64');
      const clientLst = computeLiveSessionToken(prime, a, B.toString('hex'), secret.toString('hex'));
      expect(clientLst).toBe(serverLst);
      const sig = createHmac('sha1', Buffer.from(serverLst, 'base64')).update('TDMTEST01').digest('hex');
      expect(validateLiveSessionToken(clientLst, 'TDMTEST01', sig)).toBe(true);
      expect(validateLiveSessionToken(clientLst, 'TDMTEST02', sig)).toBe(false);
    }
  });

  it('a fixed regression vector (IBKR publishes none)', () => {
    const a = 0x1234567890abcdefn;
    const b = 0xfedcba0987654321n;
    const B = modPow(2n, b, prime).toString(16);
    const prepend = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const lst = computeLiveSessionToken(prime, a, B, prepend);
    expect(lst).toBe(computeLiveSessionToken(prime, b, modPow(2n, a, prime).toString(16), prepend));
    expect(lst).toBe('YHQrtKwrjaheO1z3EKS+CwPBSCw=');
    expect(liveSessionTokenSignature(lst, 'TESTCONS')).toBe('fe895785df44e79e77babe88f36184458ff58852');
  });

  it('the access-token secret decrypts (PKCS#1 v1.5) with BigInt RSA, where Node 20 refuses', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const secret = randomBytes(32);
    const enc = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, secret).toString('base64');
    expect(liveSessionTokenPrepend(enc, privateKey)).toBe(secret.toString('hex'));
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => liveSessionTokenPrepend(enc, other)).toThrow(/decryption failed/);
  });
});

describe('pacing follows the connection', () => {
  const oauth = { consumerKey: 'TDMTEST01', accessToken: 'abc' };
  it('defaults: 10/s through the gateway, 40/s direct', () => {
    expect(engineSectionSchema.parse({}).pacing).toEqual({ maxRequestsPerSecond: 10, ceiling: 40 });
    expect(engineSectionSchema.parse({ connection: 'oauth', oauth }).pacing).toEqual({ maxRequestsPerSecond: 40, ceiling: 40 });
  });
  it('the ceiling rises to IBKR\'s 50/s with OAuth only, and the budget must fit under it', () => {
    const ok = engineSectionSchema.parse({ connection: 'oauth', oauth, pacing: { ceiling: 50, maxRequestsPerSecond: 50 } });
    expect(ok.pacing.maxRequestsPerSecond).toBe(DIRECT_ACCESS_RATE_LIMIT);
    const over = engineSectionSchema.safeParse({ connection: 'oauth', oauth, pacing: { maxRequestsPerSecond: 45 } });
    expect(over.error?.issues[0]).toMatchObject({ path: ['pacing', 'maxRequestsPerSecond'], maximum: 40 });
    expect(over.error?.issues[0]?.message).toMatch(/raise pacing.ceiling up to IBKR's 50\/s/);
    const gw = engineSectionSchema.safeParse({ pacing: { ceiling: 50 } });
    expect(gw.error?.issues[0]?.message).toMatch(/only with connection: oauth/);
    expect(engineSectionSchema.safeParse({ pacing: { ceiling: 60 } }).success).toBe(false);
    const login = engineSectionSchema.safeParse({ connection: 'oauth', oauth, auth: { autoLogin: true } });
    expect(login.error?.issues[0]?.message).toMatch(/with connection: oauth there is no login/);
    const missing = engineSectionSchema.safeParse({ connection: 'oauth' });
    expect(missing.error?.issues.map((i) => i.path.join('.'))).toEqual(['oauth.consumerKey', 'oauth.accessToken']);
  });
});
