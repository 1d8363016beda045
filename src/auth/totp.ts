/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), the codes an authenticator app shows.
 *
 * IBKR's "mobile authenticator app" second factor accepts a standard TOTP: HMAC-SHA1, 6 digits,
 * 30 s steps, from a base32 secret (the text behind the QR code shown when the app is enrolled).
 * Implemented on node:crypto so no dependency ever sees the secret.
 */
import { createHmac } from 'node:crypto';
import { UserError } from '../util/errors.ts';

export interface TotpOptions {
  /** Unix time in milliseconds; default now. */
  now?: number;
  /** Seconds per step; default 30. */
  stepSeconds?: number;
  /** Code length; default 6. */
  digits?: number;
  /** HMAC hash; IBKR uses SHA1 (the RFC default). */
  algorithm?: 'sha1' | 'sha256' | 'sha512';
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * Decodes RFC 4648 base32. Spaces, dashes and `=` padding are ignored and case does not matter,
 * because secrets are often copied in groups ("abcd efgh ...").
 * The error never quotes the secret: it only says which character position is wrong.
 */
export function base32Decode(input: string): Buffer {
  const clean = input.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (clean.length === 0) throw new UserError('IBKR_TOTP_SECRET is empty: set it to the base32 secret of your authenticator enrolment, or unset it to use push approval.', 'TANDEM_CONFIG_INVALID');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (let i = 0; i < clean.length; i++) {
    const idx = BASE32_ALPHABET.indexOf(clean.charAt(i));
    if (idx < 0) {
      throw new UserError(`IBKR_TOTP_SECRET is not valid base32 (character ${i + 1} is not A-Z or 2-7): copy the secret again from the authenticator enrolment page.`, 'TANDEM_CONFIG_INVALID');
    }
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP of a counter with the given key. */
export function hotp(key: Buffer, counter: number, digits = 6, algorithm: TotpOptions['algorithm'] = 'sha1'): string {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`HOTP counter must be a non-negative integer, got ${counter}`);
  if (!Number.isInteger(digits) || digits < 6 || digits > 10) throw new RangeError(`HOTP digits must be 6..10, got ${digits}`);
  const msg = Buffer.alloc(8);
  // The counter is a 64-bit big-endian integer; split it so values above 2^32 (year 2106+ at 30 s) stay exact.
  msg.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  msg.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac(algorithm ?? 'sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The TOTP code for a raw key (bytes) at a time. */
export function totpFromKey(key: Buffer, opts: TotpOptions = {}): string {
  const step = opts.stepSeconds ?? 30;
  const counter = Math.floor((opts.now ?? Date.now()) / 1000 / step);
  return hotp(key, counter, opts.digits ?? 6, opts.algorithm ?? 'sha1');
}

/** The TOTP code for a base32 secret at a time (default now, 6 digits, 30 s, SHA1). */
export function totp(base32Secret: string, opts: TotpOptions = {}): string {
  return totpFromKey(base32Decode(base32Secret), opts);
}

/** Milliseconds until the current code changes; a login waits for a fresh code when this is short. */
export function msUntilNextStep(now = Date.now(), stepSeconds = 30): number {
  const stepMs = stepSeconds * 1000;
  return stepMs - (now % stepMs);
}
