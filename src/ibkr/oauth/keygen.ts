/**
 * Key material for IBKR's self-service OAuth page, made with node:crypto only: two RSA-2048 key
 * pairs (signing, encryption) and Diffie-Hellman parameters, written as the five files IBKR's guide
 * names (the same names `openssl genrsa/rsa/dhparam` produce in that guide). Private files and the
 * directory are readable by the owner only.
 *
 * DH parameters: a fresh 2048-bit safe prime (as `openssl dhparam 2048`; it takes from seconds to
 * minutes), or with `dh: 'rfc3526'` the published 2048-bit MODP group 14 of RFC 3526 (generator 2),
 * instant and as strong for this purpose.
 */
import { createDiffieHellman, generateKeyPairSync, getDiffieHellman } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { dhParamsToPem } from './keys.ts';
import { bigFromBytes } from './lst.ts';

export const OAUTH_FILES = {
  signingPrivate: 'private_signature.pem',
  signingPublic: 'public_signature.pem',
  encryptionPrivate: 'private_encryption.pem',
  encryptionPublic: 'public_encryption.pem',
  dhParams: 'dhparam.pem',
} as const;

export interface KeygenOptions {
  /** `generate` (default): a new safe prime; `rfc3526`: RFC 3526 group 14. */
  dh?: 'generate' | 'rfc3526';
  /** Encrypt the private keys (AES-256-CBC, PKCS#8) with this passphrase. */
  passphrase?: string;
  /** Replace existing files. */
  force?: boolean;
}

export function generateOAuthKeys(dir: string, opts: KeygenOptions = {}): Record<keyof typeof OAUTH_FILES, string> {
  const paths = Object.fromEntries(Object.entries(OAUTH_FILES).map(([k, f]) => [k, join(dir, f)])) as Record<keyof typeof OAUTH_FILES, string>;
  const existing = Object.values(paths).filter((p) => existsSync(p));
  if (existing.length && !opts.force) {
    throw new UserError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; IBKR only knows the keys you uploaded. Fix: pick another --dir, or pass --force to replace them (then upload the new public files to IBKR).`, 'TANDEM_BAD_OPTION');
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const privateEncoding = opts.passphrase
    ? ({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: opts.passphrase } as const)
    : ({ type: 'pkcs8', format: 'pem' } as const);
  const write = (path: string, text: string) => {
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
  };
  for (const [priv, pub] of [['signingPrivate', 'signingPublic'], ['encryptionPrivate', 'encryptionPublic']] as const) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: privateEncoding });
    write(paths[priv], pair.privateKey);
    write(paths[pub], pair.publicKey);
  }
  const dh = opts.dh === 'rfc3526' ? getDiffieHellman('modp14') : createDiffieHellman(2048);
  write(paths.dhParams, dhParamsToPem({ prime: bigFromBytes(dh.getPrime()), generator: bigFromBytes(dh.getGenerator()) }));
  return paths;
}
