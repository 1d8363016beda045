/**
 * What IBKR's self-service OAuth page holds for one consumer, in simulator form: the public signing
 * and encryption keys and the DH parameters the user uploaded, and the access token and access-token
 * secret the page issues (the secret shown to the user is encrypted with their public encryption key,
 * RSA PKCS#1 v1.5, base64).
 */
import { createPublicKey, publicEncrypt, randomBytes, constants, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SimOAuthConsumer {
  consumerKey: string;
  accessToken: string;
  /** The access-token secret in clear (hex), as only IBKR knows it. */
  accessTokenSecretHex: string;
  realm: string;
  signingKey: KeyObject;
  encryptionKey: KeyObject;
  dhPrime: bigint;
  dhGenerator: bigint;
  /** LST lifetime (real ms); IBKR's is about 24 hours. */
  lstTtlMs: number;
  /** Accepted distance between a request's oauth_timestamp and the server clock (s). */
  timestampWindowS: number;
}

export interface IssuedAccessToken {
  accessToken: string;
  accessTokenSecretHex: string;
  /** What the OAuth page shows the user (and what goes into .env). */
  encryptedSecretB64: string;
}

/** Issues an access token and its secret, encrypted for the consumer's public encryption key. */
export function issueAccessToken(publicEncryptionPem: string): IssuedAccessToken {
  const secret = randomBytes(32);
  const encrypted = publicEncrypt({ key: createPublicKey(publicEncryptionPem), padding: constants.RSA_PKCS1_PADDING }, secret);
  return { accessToken: randomBytes(10).toString('hex'), accessTokenSecretHex: secret.toString('hex'), encryptedSecretB64: encrypted.toString('base64') };
}

function derInt(buf: Buffer, at: number): { value: bigint; next: number } {
  if (buf[at] !== 0x02) throw new Error('expected an INTEGER');
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  return { value: BigInt(`0x${buf.subarray(start, start + len).toString('hex') || '0'}`), next: start + len };
}

/** PKCS#3 `DH PARAMETERS` PEM → prime and generator. */
export function readDhParams(pem: string): { prime: bigint; generator: bigint } {
  const b64 = /-----BEGIN DH PARAMETERS-----([\s\S]*?)-----END DH PARAMETERS-----/.exec(pem)?.[1];
  if (!b64) throw new Error('not a DH PARAMETERS PEM');
  const der = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  if (der[0] !== 0x30) throw new Error('expected a SEQUENCE');
  const first = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  const p = derInt(der, first);
  const g = derInt(der, p.next);
  return { prime: p.value, generator: g.value };
}

/** The files a user uploads to IBKR, read from KEYDIR (the names `tandem oauth init` and IBKR's guide use). */
export function readUploadedKeys(dir: string): { signingPem: string; encryptionPem: string; dhPem: string } {
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { signingPem: read('public_signature.pem'), encryptionPem: read('public_encryption.pem'), dhPem: read('dhparam.pem') };
}

export interface SimOAuthSetup {
  consumerKey?: string;
  realm?: string;
  signingPem: string;
  encryptionPem: string;
  dhPem: string;
  /** Use this access token instead of issuing one. */
  issued?: IssuedAccessToken;
  lstTtlMs?: number;
  timestampWindowS?: number;
}

export function createConsumer(setup: SimOAuthSetup): { consumer: SimOAuthConsumer; issued: IssuedAccessToken } {
  const issued = setup.issued ?? issueAccessToken(setup.encryptionPem);
  const dh = readDhParams(setup.dhPem);
  return {
    issued,
    consumer: {
      consumerKey: setup.consumerKey ?? 'TANDEMSIM',
      accessToken: issued.accessToken,
      accessTokenSecretHex: issued.accessTokenSecretHex,
      realm: setup.realm ?? 'limited_poa',
      signingKey: createPublicKey(setup.signingPem),
      encryptionKey: createPublicKey(setup.encryptionPem),
      dhPrime: dh.prime,
      dhGenerator: dh.generator,
      lstTtlMs: setup.lstTtlMs ?? 24 * 3_600_000,
      timestampWindowS: setup.timestampWindowS ?? 300,
    },
  };
}
