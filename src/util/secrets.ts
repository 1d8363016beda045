/**
 * The one scrubber of secret values. Every known secret (the IBKR username, password and TOTP
 * secret, a session token, a value interpolated from a secret-looking variable, the password part
 * of a URL) is registered once, where it is read; everything shown to a person passes through
 * `scrubSecrets`: log lines (log/logger.ts), the CLI's error printer, `config show` and `doctor`.
 */
const REDACTED = '[redacted]';
const secretValues = new Set<string>();

/** Variable names whose values are secrets wherever they are interpolated (`${NAME}`). */
export const SECRET_NAME = /PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|PWD/i;

/**
 * Registers a value that must never appear in any output. Values shorter than 3 characters are
 * ignored: masking them would mangle ordinary text.
 */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 3) secretValues.add(value);
}

export function hasSecrets(): boolean {
  return secretValues.size > 0;
}

/** Replaces every registered secret in a string (longest first, so a secret inside another goes too). */
export function scrubSecrets(text: string): string {
  if (secretValues.size === 0) return text;
  let out = text;
  for (const s of [...secretValues].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
    // The same value percent-encoded (in a URL).
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join(REDACTED);
  }
  return out;
}

/** Registers the user-info password of every URL in `text` (`https://user:pass@host`). */
export function registerUrlSecrets(text: string): void {
  for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^/@\s:]*):([^/@\s]*)@/gi)) {
    registerSecret(m[2]);
    try {
      registerSecret(decodeURIComponent(m[2] ?? ''));
    } catch {
      /* not percent-encoded */
    }
  }
}
