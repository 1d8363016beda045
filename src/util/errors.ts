/**
 * Error types shared by every layer.
 *
 * Every error Tandem throws on purpose is a `TandemError`: a stable `code` (a string constant, in
 * the manner of undici's `UND_ERR_*` codes) and `retryable` (whether repeating the same call later
 * may succeed). Programs decide by these two, never by the message text, which is for people and
 * may be reworded at any time. Codes never change meaning once published; a new case gets a new code.
 *
 * A `UserError` is a mistake the user can fix (a bad config value, a missing variable, a malformed
 * data file) or an outcome the user must act on (a refused order, a failing doctor check). Only the
 * CLI turns errors into text: it prints a UserError's message alone, without a stack trace, and exits
 * with the code `exitCodeFor` gives its class and code (src/util/exit-codes.ts). Anything else
 * reaching the top is a bug in Tandem and is printed with its stack.
 */
import { exitCodeFor, type ExitCode } from './exit-codes.ts';

export interface TandemErrorOptions {
  code?: string;
  retryable?: boolean;
  cause?: unknown;
}

export class TandemError extends Error {
  override name = 'TandemError';
  /** Stable identifier of the failure; see each class for its codes. */
  readonly code: string;
  /** True when the same call may succeed if repeated later (a timeout, a 5xx, a pacing refusal). */
  readonly retryable: boolean;
  /**
   * True for failures on the broker's side (gateway, session, login, a refused order): the CLI
   * exits with EXIT.broker for them instead of EXIT.userError.
   */
  readonly brokerSide: boolean = false;

  constructor(message: string, code: string, retryable = false, cause?: unknown) {
    super(message);
    this.code = code;
    this.retryable = retryable;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Codes of plain UserErrors (subclasses have their own). TANDEM_USER_ERROR is the catch-all for a
 * mistake that fits none of the others.
 */
export type UserErrorCode =
  /** A mistake the user can fix that has no more specific code. */
  | 'TANDEM_USER_ERROR'
  /** A config file, a strategy file, an environment variable or their combination is wrong. */
  | 'TANDEM_CONFIG_INVALID'
  /** A command-line option or argument is wrong. */
  | 'TANDEM_BAD_OPTION'
  /** A file the user named (data, key, config, journal) does not exist. */
  | 'TANDEM_FILE_NOT_FOUND'
  /** A file exists but its content is not what it must be (malformed CSV/Parquet, not a journal). */
  | 'TANDEM_FILE_INVALID'
  /** The account, the mode or the connection does not allow what was asked (paper vs live). */
  | 'TANDEM_MODE_MISMATCH'
  /** A network port is taken or not allowed. */
  | 'TANDEM_PORT_UNAVAILABLE'
  /** Another process holds the journal (a node already runs on it). */
  | 'TANDEM_JOURNAL_LOCKED'
  /** `tandem doctor` ran and at least one check failed. */
  | 'TANDEM_CHECKS_FAILED'
  /** The node stopped on a risk limit (kill switch, daily loss). */
  | 'TANDEM_RISK_STOP'
  /** `--flatten-on-exit` could not close every position. */
  | 'TANDEM_FLATTEN_INCOMPLETE'
  /** `tandem status` found the node unhealthy. */
  | 'TANDEM_UNHEALTHY'
  /** Something that cannot happen did (reported to the user as a bug, without a stack). */
  | 'TANDEM_INTERNAL';

export class UserError extends TandemError {
  override name = 'UserError';
  constructor(message: string, codeOrOptions: UserErrorCode | TandemErrorOptions = 'TANDEM_USER_ERROR') {
    const o = typeof codeOrOptions === 'string' ? { code: codeOrOptions } : codeOrOptions;
    super(message, o.code ?? 'TANDEM_USER_ERROR', o.retryable ?? false, o.cause);
  }

  /** Process exit code the CLI uses for this error (by its class and code: exit-codes.ts). */
  get exitCode(): ExitCode {
    return exitCodeFor(this);
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** Whether an error says the same call may succeed later (by its `retryable` flag only). */
export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
}

/**
 * The broker refused an order and did not place it: a rejection text, an invalid order, or a cOID it
 * already has (`duplicate`: the first send went through). The one rejection error of every layer:
 * the IBKR client throws it, the `Broker` implementations pass it on, the order manager acts on it.
 */
export class OrderRejectedError extends UserError {
  override name = 'OrderRejectedError';
  override readonly brokerSide = true;
  /** Endpoint as "METHOD /path" when the refusal came from the gateway, else ''. */
  readonly endpoint: string;
  constructor(
    readonly cOID: string,
    /** Why, in the broker's words (secrets removed by the CLI when printed). */
    readonly reason: string,
    /** True when the broker says this cOID is already registered: the first send went through. */
    readonly duplicate = false,
    options: { endpoint?: string; cause?: unknown } = {},
  ) {
    super(`order ${cOID ? `${cOID} ` : ''}rejected: ${reason}`, { code: duplicate ? 'DUPLICATE_COID' : 'ORDER_REJECTED', retryable: false, cause: options.cause });
    this.endpoint = options.endpoint ?? '';
  }
}
