/**
 * The live session token (LST) arithmetic of IBKR's OAuth 1.0a "extended" flow:
 *
 *   prepend   = hex(RSA-decrypt(private encryption key, base64(access token secret)))  (PKCS#1 v1.5)
 *   challenge = hex(2^a mod p)                    a: 256 random bits, p: the registered DH prime
 *   K         = B^a mod p                         B: `diffie_hellman_response` (hex) of the server
 *   LST       = base64(HMAC-SHA1(key = bytes(K), message = bytes(prepend)))
 *   valid iff hex(HMAC-SHA1(key = LST bytes, message = consumer key)) == `live_session_token_signature`
 *
 * bytes(K) is Java's BigInteger.toByteArray(): big-endian, with a leading zero byte when the top bit
 * is set (IBKR's server is Java; its sample code and ibind add the zero byte the same way).
 *
 * The RSA decryption is done with BigInt arithmetic on the key's own numbers: Node 20 refuses
 * PKCS#1 v1.5 private decryption (CVE-2023-46809, the Marvin timing attack on servers that decrypt
 * attacker-chosen ciphertexts). Here the ciphertext is our own access-token secret, decrypted once per
 * session on our own machine, so that attack does not apply.
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';

export function bigFromBytes(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${b.toString('hex')}`);
}

export function bigFromHex(hex: string): bigint {
  return BigInt(`0x${hex.replace(/^0x/i, '') || '0'}`);
}

/** Minimal unsigned big-endian bytes (empty for 0). */
export function bigToBytes(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0);
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex');
}

/** Java `BigInteger.toByteArray()` of a non-negative number: a sign byte when the top bit is set. */
export function javaBigIntegerBytes(n: bigint): Buffer {
  const b = bigToBytes(n);
  return b.length > 0 && (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function jwkNumber(v: string | undefined, name: string): bigint {
  if (!v) throw new Error(`the RSA private key has no "${name}" component`);
  return bigFromBytes(Buffer.from(v, 'base64url'));
}

/** RSA decryption with PKCS#1 v1.5 type-2 unpadding (RFC 8017 §7.2.2), via the CRT. */
export function rsaDecryptPkcs1v15(privateKey: KeyObject, ciphertext: Buffer): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  const n = jwkNumber(jwk.n, 'n');
  const k = bigToBytes(n).length;
  if (ciphertext.length !== k) throw new Error(`the ciphertext is ${ciphertext.length} bytes, the key needs ${k}`);
  const c = bigFromBytes(ciphertext);
  if (c >= n) throw new Error('decryption failed: the ciphertext is out of range for this key (wrong key, or the secret was not encrypted for it)');
  const p = jwkNumber(jwk.p, 'p');
  const q = jwkNumber(jwk.q, 'q');
  const dp = jwkNumber(jwk.dp, 'dp');
  const dq = jwkNumber(jwk.dq, 'dq');
  const qi = jwkNumber(jwk.qi, 'qi');
  const m1 = modPow(c, dp, p);
  const m2 = modPow(c, dq, q);
  const h = (((m1 - m2) % p) + p) % p * qi % p;
  const m = m2 + h * q;
  const em = Buffer.alloc(k);
  const mb = bigToBytes(m);
  mb.copy(em, k - mb.length);
  // EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) || 0x00 || M
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw new Error('decryption failed (wrong key, or the secret is not PKCS#1 v1.5 encrypted for it)');
  return em.subarray(sep + 1);
}

/** The prepend: hex of the decrypted access-token secret. */
export function liveSessionTokenPrepend(accessTokenSecretB64: string, encryptionKey: KeyObject): string {
  const raw = Buffer.from(accessTokenSecretB64.trim(), 'base64');
  return rsaDecryptPkcs1v15(encryptionKey, raw).toString('hex');
}

export interface DhExchange {
  /** Our secret exponent `a`. */
  random: bigint;
  /** `2^a mod p`, hex (no 0x, no padding), sent as `diffie_hellman_challenge`. */
  challengeHex: string;
}

export function newDhExchange(prime: bigint, generator = 2n): DhExchange {
  const random = bigFromBytes(randomBytes(32));
  return { random, challengeHex: modPow(generator, random, prime).toString(16) };
}

/** LST = base64(HMAC-SHA1(bytes(B^a mod p), bytes(prepend))). */
export function computeLiveSessionToken(prime: bigint, random: bigint, dhResponseHex: string, prependHex: string): string {
  const k = modPow(bigFromHex(dhResponseHex), random, prime);
  return createHmac('sha1', javaBigIntegerBytes(k)).update(Buffer.from(prependHex, 'hex')).digest('base64');
}

/** The server's proof that it computed the same LST: hex(HMAC-SHA1(LST, consumer key)). */
export function liveSessionTokenSignature(lst: string, consumerKey: string): string {
  return createHmac('sha1', Buffer.from(lst, 'base64')).update(consumerKey, 'utf8').digest('hex');
}

export function validateLiveSessionToken(lst: string, consumerKey: string, signatureHex: string): boolean {
  return liveSessionTokenSignature(lst, consumerKey) === signatureHex.trim().toLowerCase();
}
