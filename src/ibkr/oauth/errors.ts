/**
 * Errors of the OAuth connection. Each says what failed, where, and what to do about it; `code`
 * names the failure for programs and `retryable` says whether trying again can help (a refused
 * signature cannot; a network hiccup while renewing the token can).
 */
import { IbkrError } from '../errors.ts';

export type OAuthErrorCode =
  | 'oauth-settings'
  | 'oauth-key-file'
  | 'oauth-secret'
  | 'oauth-lst-refused'
  | 'oauth-lst-invalid'
  | 'oauth-refused';

export class OAuthError extends IbkrError {
  override name = 'OAuthError';
  declare readonly code: OAuthErrorCode;
  constructor(
    code: OAuthErrorCode,
    message: string,
    endpoint = '',
    retryable = false,
    /** What IBKR answered, when the error comes from an answer. */
    readonly serverMessage?: string,
  ) {
    super(message, endpoint, code, retryable);
  }
}
