/**
 * Error types shared by every layer.
 *
 * A `UserError` is a mistake the user can fix (a bad config value, a missing variable, a malformed
 * data file). The CLI prints its message alone, without a stack trace, and exits with its code.
 * Anything else reaching the top is a bug in Tandem and is printed with its stack.
 */
import { EXIT } from './exit-codes.ts';

export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    /** Process exit code the CLI uses for this error. */
    readonly exitCode: number = EXIT.userError,
  ) {
    super(message);
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
