/**
 * OAuth cost benchmark: what the direct connection adds to the client's work. Per live session
 * token (once a day): the access-token secret's RSA decryption (BigInt CRT, Node 20 refuses PKCS#1
 * v1.5 private decryption), the DH challenge, the LST computation and the RSA-SHA256 signature.
 * Per request: the base string and its HMAC-SHA256 signature.
 *
 *   npx tsx bench/oauth.ts [--n 20000]
 */
import { constants, generateKeyPairSync, getDiffieHellman, publicEncrypt, randomBytes } from 'node:crypto';
import { bigFromBytes, computeLiveSessionToken, liveSessionTokenPrepend, modPow, newDhExchange } from '../src/ibkr/oauth/lst.ts';
import { hmacSha256, rsaSha256, signatureBaseString } from '../src/ibkr/oauth/signature.ts';

const nArg = process.argv.indexOf('--n');
const n = nArg > 0 ? Number(process.argv[nArg + 1]) : 20_000;
const perCall = (times: number, f: () => void): number => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < times; i++) f();
  return Number(process.hrtime.bigint() - start) / 1e6 / times;
};

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const secret = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(32)).toString('base64');
const prime = bigFromBytes(getDiffieHellman('modp14').getPrime());
const response = modPow(2n, bigFromBytes(randomBytes(32)), prime).toString(16);
const url = new URL('https://api.ibkr.com/v1/api/iserver/marketdata/snapshot?conids=265598,479624278&fields=31,84,86');
const params = Object.entries({ oauth_consumer_key: 'ABCDEFGHI', oauth_nonce: 'f'.repeat(32), oauth_signature_method: 'HMAC-SHA256', oauth_timestamp: '1764400000', oauth_token: '0123456789abcdef0123' });
const lst = computeLiveSessionToken(prime, bigFromBytes(randomBytes(32)), response, 'ab'.repeat(16));

const rows: [string, string][] = [
  ['secret decryption (RSA-2048, BigInt CRT), per LST', `${perCall(20, () => liveSessionTokenPrepend(secret, privateKey)).toFixed(2)} ms`],
  ['DH challenge (2048-bit), per LST', `${perCall(20, () => newDhExchange(prime)).toFixed(2)} ms`],
  ['LST from the DH response, per LST', `${perCall(20, () => computeLiveSessionToken(prime, bigFromBytes(randomBytes(32)), response, 'ab'.repeat(16))).toFixed(2)} ms`],
  ['RSA-SHA256 signature of the LST request', `${perCall(50, () => rsaSha256(signatureBaseString('POST', url, params, 'ab'.repeat(16)), privateKey)).toFixed(2)} ms`],
  [`HMAC-SHA256 request signature (mean of ${n})`, `${(perCall(n, () => hmacSha256(signatureBaseString('GET', url, params), lst)) * 1000).toFixed(1)} µs`],
];
for (const [what, v] of rows) process.stdout.write(`${what.padEnd(56)} ${v}\n`);
