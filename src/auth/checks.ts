/**
 * `tandem doctor`'s auto-login section: is auto-login on, is the browser there, are the credentials
 * set, which second factor will be used. Lines have the shape of the doctor's checklist
 * (`{ check, status, detail, fix? }`), so the doctor prints them with the rest. Nothing here reads
 * or prints a secret's value: only whether it is set.
 */
import { checkBrowser } from './chromium.ts';
import type { AuthSettings } from './settings.ts';
import { readFailedLogins } from './failed-logins.ts';
import { base32Decode } from './totp.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface AutoLoginCheckLine {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface AutoLoginCheckInput {
  /** `auth.autoLogin`. */
  autoLogin: boolean;
  /** `auth.browserPath`. */
  browserPath: string;
  credentials: { username?: string; password?: string; totpSecret?: string };
  mode: 'paper' | 'live';
  /** `auth.pushTimeoutSeconds`. */
  pushTimeoutSeconds?: number;
  /** To report failed logins counted toward the lockout guard. */
  dataDir?: string;
  maxFailedLogins?: number;
}

export function autoLoginChecks(input: AutoLoginCheckInput): AutoLoginCheckLine[] {
  if (!input.autoLogin) {
    return [{
      check: 'auto-login',
      status: 'skip',
      detail: 'off: the gateway must be logged in by hand in a browser (at least once a day)',
      fix: 'To let Tandem log in, set auth.autoLogin: true in the engine config and IBKR_USERNAME / IBKR_PASSWORD in .env (see docs/auto-login.md).',
    }];
  }
  const lines: AutoLoginCheckLine[] = [{ check: 'auto-login', status: 'ok', detail: `on (${input.mode} mode)` }];

  const browser = checkBrowser(input.browserPath);
  lines.push(browser.ok
    ? { check: 'auto-login browser', status: 'ok', detail: `Chromium found at ${browser.path}` }
    : { check: 'auto-login browser', status: 'fail', detail: browser.problem ?? 'not usable', fix: 'Install Chromium (apt install chromium) or set auth.browserPath.' });

  const { username, password, totpSecret } = input.credentials;
  const missing = [!username && 'IBKR_USERNAME', !password && 'IBKR_PASSWORD'].filter(Boolean) as string[];
  lines.push(missing.length
    ? { check: 'auto-login credentials', status: 'fail', detail: `${missing.join(' and ')} not set`, fix: `Add ${missing.map((m) => `${m}=...`).join(' and ')} to .env (the ${input.mode} username and its password).` }
    : { check: 'auto-login credentials', status: 'ok', detail: 'IBKR_USERNAME and IBKR_PASSWORD are set' });

  if (totpSecret) {
    let valid: boolean;
    try {
      valid = base32Decode(totpSecret).length >= 10;
    } catch {
      valid = false;
    }
    lines.push(valid
      ? { check: 'auto-login second factor', status: 'ok', detail: 'TOTP: codes are generated from IBKR_TOTP_SECRET' }
      : { check: 'auto-login second factor', status: 'fail', detail: 'IBKR_TOTP_SECRET is set but is not a base32 secret of at least 16 characters', fix: 'Copy the secret (the text version of the QR code) from the authenticator-app enrolment again.' });
  } else {
    lines.push({
      check: 'auto-login second factor',
      status: 'warn',
      detail: `push: someone must approve the IBKR Mobile notification within ${input.pushTimeoutSeconds ?? 120} s at each login (unless the username has no second factor)`,
      fix: 'For unattended logins set IBKR_TOTP_SECRET (authenticator-app second factor); see docs/auto-login.md.',
    });
  }

  if (input.dataDir) {
    const failed = readFailedLogins(input.dataDir);
    const max = input.maxFailedLogins ?? 5;
    if (failed.count >= max) {
      lines.push({ check: 'auto-login failures', status: 'fail', detail: `${failed.count} refused logins in a row: auto-login is stopped to avoid an account lockout`, fix: 'Log in once by hand to check the credentials, then run "tandem login --reset-failures".' });
    } else if (failed.count > 0) {
      lines.push({ check: 'auto-login failures', status: 'warn', detail: `${failed.count} of ${max} allowed refused logins used (last: "${failed.lastMessage ?? 'unknown'}")`, fix: 'Check IBKR_USERNAME / IBKR_PASSWORD; the count resets after a successful login.' });
    }
  }
  return lines;
}

/** The same checks from resolved settings (`resolveAuthSettings` / `authSettingsFromConfig`). */
export function autoLoginChecksFor(s: AuthSettings): AutoLoginCheckLine[] {
  return autoLoginChecks({
    autoLogin: s.autoLogin,
    browserPath: s.browserPath,
    credentials: s.credentials,
    mode: s.mode,
    pushTimeoutSeconds: s.pushTimeoutSeconds,
    dataDir: s.dataDir,
  });
}
