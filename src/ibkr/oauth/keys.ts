/**
 * The OAuth key material on disk: the private signing and encryption keys (PEM, PKCS#1 or PKCS#8,
 * optionally passphrase-protected) and the Diffie-Hellman parameters (`-----BEGIN DH PARAMETERS-----`,
 * the PKCS#3 DER `SEQUENCE { prime INTEGER, generator INTEGER }` that `openssl dhparam` and
 * `tandem oauth init` write). Every failure names the file and says how to fix it.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OAuthError } from './errors.ts';
import { bigFromBytes, javaBigIntegerBytes } from './lst.ts';

export interface DhParams {
  prime: bigint;
  generator: bigint;
}

function derLength(buf: Buffer, at: number): { len: number; next: number } {
  const first = buf[at];
  if (first === undefined) throw new Error('truncated DER');
  if (first < 0x80) return { len: first, next: at + 1 };
  const n = first & 0x7f;
  if (n === 0 || n > 4 || at + 1 + n > buf.length) throw new Error('bad DER length');
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[at + 1 + i]!;
  return { len, next: at + 1 + n };
}

function derElement(buf: Buffer, at: number, tag: number): { body: Buffer; next: number } {
  if (buf[at] !== tag) throw new Error(`expected DER tag 0x${tag.toString(16)} at byte ${at}`);
  const { len, next } = derLength(buf, at + 1);
  if (next + len > buf.length) throw new Error('truncated DER');
  return { body: buf.subarray(next, next + len), next: next + len };
}

function pemBody(pem: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`no "BEGIN ${label}" block`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

export function parseDhParamsPem(pem: string): DhParams {
  const seq = derElement(pemBody(pem, 'DH PARAMETERS'), 0, 0x30).body;
  const p = derElement(seq, 0, 0x02);
  const g = derElement(seq, p.next, 0x02);
  const prime = bigFromBytes(p.body);
  const generator = bigFromBytes(g.body);
  if (prime < 2n ** 1023n) throw new Error('the prime is shorter than 1024 bits');
  return { prime, generator };
}

function derLengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let l = len; l > 0; l = Math.floor(l / 256)) bytes.unshift(l & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derInteger(n: bigint): Buffer {
  const body = n === 0n ? Buffer.from([0]) : javaBigIntegerBytes(n);
  return Buffer.concat([Buffer.from([0x02]), derLengthBytes(body.length), body]);
}

export function dhParamsToPem(p: DhParams): string {
  const content = Buffer.concat([derInteger(p.prime), derInteger(p.generator)]);
  const der = Buffer.concat([Buffer.from([0x30]), derLengthBytes(content.length), content]);
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN DH PARAMETERS-----\n${lines.join('\n')}\n-----END DH PARAMETERS-----\n`;
}

function readText(file: string, what: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OAuthError(
      'oauth-key-file',
      `Cannot read the OAuth ${what} ${file} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}). ` +
        `Fix: point oauth.${setting} in the engine config at the file \`tandem oauth init\` wrote (relative paths start at the current directory).`,
    );
  }
}

export function loadPrivateKey(file: string, what: string, setting: string, passphrase?: string): KeyObject {
  const pem = readText(file, what, setting);
  try {
    const key = createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`it is a ${key.asymmetricKeyType ?? 'non-RSA'} key, IBKR needs RSA`);
    return key;
  } catch (err) {
    const msg = (err as Error).message;
    const needsPass = /passphrase|bad decrypt|interrupted or cancelled/i.test(msg);
    throw new OAuthError(
      'oauth-key-file',
      `The OAuth ${what} ${file} is not a usable RSA private key: ${needsPass ? (passphrase ? 'the passphrase is wrong' : 'it is encrypted and no passphrase is set') : msg}. ` +
        (needsPass
          ? 'Fix: set IBKR_OAUTH_KEY_PASSPHRASE in .env to the passphrase of the key files.'
          : `Fix: use the private_${setting === 'signatureKeyFile' ? 'signature' : 'encryption'}.pem that \`tandem oauth init\` (or openssl genrsa) wrote, not the public half.`),
    );
  }
}

export function loadDhParams(file: string): DhParams {
  const pem = readText(file, 'Diffie-Hellman parameters', 'dhParamFile');
  try {
    return parseDhParamsPem(pem);
  } catch (err) {
    throw new OAuthError(
      'oauth-key-file',
      `The Diffie-Hellman parameter file ${file} cannot be read: ${(err as Error).message}. ` +
        'Fix: use the dhparam.pem you uploaded to IBKR (written by `tandem oauth init` or `openssl dhparam -out dhparam.pem 2048`).',
    );
  }
}
