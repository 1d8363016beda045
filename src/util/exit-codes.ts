/**
 * The exit codes of the `tandem` command, in one place so that no two meanings share a number (the
 * README's table is this list). Scripts and supervisors branch on them: 1 is reserved for a bug in
 * Tandem, so an expected outcome such as "doctor found a failing check" never looks like a crash.
 */
export const EXIT = {
  /** Done as asked. */
  ok: 0,
  /** A bug in Tandem: an unexpected error, printed with its stack (please report it). */
  bug: 1,
  /** A mistake the user can fix: bad option, config value or data file; the message says how. */
  userError: 2,
  /** The broker side failed: the gateway unreachable, not logged in, a login refused, an order refused. */
  broker: 3,
  /** The engine stopped on a risk limit (kill switch, maximum daily loss) after flattening. */
  riskStop: 4,
  /** `tandem doctor` ran and one or more checks failed (each line says how to fix it). */
  checksFailed: 5,
  /** `run --flatten-on-exit` could not close every position (market closed, or incomplete): check the account. */
  flattenIncomplete: 6,
  /** `tandem status` found the node unhealthy (session down, trading halted, or the node not running). */
  unhealthy: 7,
  /** Stopped at once by a second Ctrl-C (SIGINT) while shutting down. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Error codes (src/util/errors.ts) that are outcomes with an exit code of their own. */
const EXIT_OF_CODE: Readonly<Record<string, ExitCode>> = {
  TANDEM_CHECKS_FAILED: EXIT.checksFailed,
  TANDEM_RISK_STOP: EXIT.riskStop,
  TANDEM_FLATTEN_INCOMPLETE: EXIT.flattenIncomplete,
  TANDEM_UNHEALTHY: EXIT.unhealthy,
  TANDEM_INTERNAL: EXIT.bug,
};

/**
 * The exit code for an error that reached the CLI, by its class and code only (never its message):
 * an outcome code with its own exit code (above); else a broker-side error (gateway, session, login,
 * refused order: `brokerSide`) exits EXIT.broker; else a user error (anything with a `code`) exits
 * EXIT.userError. The CLI calls this for UserErrors only; anything else is a bug (EXIT.bug).
 */
export function exitCodeFor(err: { code: string; brokerSide: boolean }): ExitCode {
  return EXIT_OF_CODE[err.code] ?? (err.brokerSide ? EXIT.broker : EXIT.userError);
}
