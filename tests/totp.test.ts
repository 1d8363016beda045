import { describe, expect, it } from 'vitest';
import { base32Decode, hotp, msUntilNextStep, totp, totpFromKey } from '../src/auth/totp.ts';
import { UserError } from '../src/util/errors.ts';

// RFC 6238 appendix B: the SHA1 key is the ASCII string "12345678901234567890", 8 digits, 30 s steps.
const RFC_KEY = Buffer.from('12345678901234567890', 'ascii');
const RFC_KEY_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('totp', () => {
  it('decodes base32 of the RFC key, ignoring case, spaces and padding', () => {
    expect(base32Decode(RFC_KEY_BASE32).equals(RFC_KEY)).toBe(true);
    expect(base32Decode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq').equals(RFC_KEY)).toBe(true);
    expect(base32Decode('MZXW6===').toString()).toBe('foo');
  });

  it('rejects a secret that is not base32 without quoting it', () => {
    let err: unknown;
    try {
      base32Decode('ABCD1EFG');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain('character 5');
    expect((err as Error).message).not.toContain('ABCD1EFG');
    expect(() => base32Decode('  ')).toThrow(UserError);
  });

  it('matches the RFC 4226 HOTP test values', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expected.forEach((code, counter) => expect(hotp(RFC_KEY, counter)).toBe(code));
  });

  it.each(RFC_VECTORS)('matches the RFC 6238 SHA1 vector at T=%i', (seconds, code) => {
    expect(totpFromKey(RFC_KEY, { now: seconds * 1000, digits: 8 })).toBe(code);
    expect(totp(RFC_KEY_BASE32, { now: seconds * 1000, digits: 8 })).toBe(code);
    // IBKR's 6-digit code is the same value mod 10^6.
    expect(totp(RFC_KEY_BASE32, { now: seconds * 1000 })).toBe(code.slice(2));
  });

  it('keeps a code for the whole 30 s step and changes at the boundary', () => {
    const start = 1_700_000_010_000 - (1_700_000_010_000 % 30_000);
    const a = totp(RFC_KEY_BASE32, { now: start });
    expect(totp(RFC_KEY_BASE32, { now: start + 29_999 })).toBe(a);
    expect(totp(RFC_KEY_BASE32, { now: start + 30_000 })).not.toBe(a);
    expect(msUntilNextStep(start + 25_000)).toBe(5_000);
  });
});
