/**
 * Why a browser login failed, in a form the retry logic can act on and the user can read.
 */
import { UserError } from '../util/errors.ts';

export type LoginFailureKind =
  /** The page refused the credentials (or another error box after submit): counts toward the lockout limit. */
  | 'rejected'
  /** A code second factor was refused: counts toward the lockout limit. */
  | 'code-rejected'
  /** The page asks for a code but IBKR_TOTP_SECRET is not set: retrying cannot help. */
  | 'code-needed'
  /** Nobody approved the push notification in time. */
  | 'push-timeout'
  /** The page did not behave as expected (not loaded, unknown state, timeout). */
  | 'page'
  /** Chromium could not be started. */
  | 'browser'
  /** Something only the user can fix: missing credentials, the lockout guard, a paper/live mismatch. */
  | 'setup'
  /** Auto-login was stopped (the process is shutting down). */
  | 'stopped'
  /** The gateway did not answer (not running, wrong URL). */
  | 'unreachable';

/** Stable codes of the login failures (`LOGIN_` + the kind in capitals), e.g. LOGIN_CODE_NEEDED. */
export type LoginErrorCode = `LOGIN_${Uppercase<string>}`;

const PERMANENT: readonly LoginFailureKind[] = ['code-needed', 'browser', 'setup', 'stopped'];

export class LoginError extends UserError {
  override name = 'LoginError';
  override readonly brokerSide = true;
  constructor(
    message: string,
    readonly kind: LoginFailureKind,
    /** What the login page said, secrets removed. */
    readonly pageMessage?: string,
    /** Screenshot of the failed page (fields blanked), if one was saved. */
    readonly screenshot?: string,
  ) {
    super(message, { code: `LOGIN_${kind.toUpperCase().replace(/-/g, '_')}`, retryable: !PERMANENT.includes(kind) });
  }

  /** Failures that used up one of the attempts IBKR allows before it locks the account. */
  get countsTowardLockout(): boolean {
    return this.kind === 'rejected' || this.kind === 'code-rejected';
  }

  /** Failures a later attempt can not fix without the user changing something. */
  get permanent(): boolean {
    return PERMANENT.includes(this.kind);
  }
}
