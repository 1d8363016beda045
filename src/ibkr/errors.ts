/**
 * Typed errors of the IBKR client.
 *
 * Every error names the endpoint it came from, so a log line or a CLI message says where things went
 * wrong. They extend `UserError` because the usual causes (gateway not running, not logged in, pacing)
 * are things the user fixes; the CLI prints them without a stack trace. Each class has a stable
 * `code` (`IBKR_*`) and `retryable` flag; the client's retry loop decides by those alone. What the
 * gateway says in words (e.g. "no bridge", "already registered") is classified into a code once,
 * where the error is made (`apiErrorCode`), and never read again.
 */
import { UserError } from '../util/errors.ts';

export class IbkrError extends UserError {
  override name = 'IbkrError';
  override readonly brokerSide = true;
  constructor(
    message: string,
    /** Endpoint as "METHOD /path" (without the query string), or '' when not tied to one. */
    readonly endpoint: string,
    code = 'IBKR_ERROR',
    retryable = false,
    cause?: unknown,
  ) {
    super(message, { code, retryable, cause });
  }
}

/** The gateway did not answer at all: connection refused, DNS failure, TLS failure, reset. */
export class GatewayUnreachableError extends IbkrError {
  override name = 'GatewayUnreachableError';
  constructor(
    readonly baseUrl: string,
    endpoint: string,
    readonly reason: string,
    /** Decided by the transport from the socket error's code: a reset connection may work again; a refused one will not soon. */
    retryable = false,
  ) {
    super(
      `Cannot reach the IBKR Client Portal Gateway at ${baseUrl} (${endpoint}): ${reason}.\n` +
        'Check that: (1) the gateway is running and listening at that URL (start it with ' +
        '`bin/run.sh root/conf.yaml` in the clientportal.gw folder, or the Tandem gateway command); ' +
        '(2) Java is installed (`java -version`) so the gateway can start; ' +
        '(3) the host and port match `listenPort` in the gateway\'s conf.yaml; ' +
        '(4) the gateway certificate is trusted: loopback hosts accept its self-signed certificate, ' +
        'other hosts need `tls.caFile` or `tls.fingerprint` in the config.',
      endpoint,
      'IBKR_GATEWAY_UNREACHABLE',
      retryable,
    );
  }
}

/** The TLS certificate of the gateway does not match the pinned CA or fingerprint. */
export class GatewayCertificateError extends IbkrError {
  override name = 'GatewayCertificateError';
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(
      `The TLS certificate of the gateway at ${baseUrl} is not trusted: ${reason}. ` +
        'If you replaced the gateway certificate, update `tls.fingerprint` (SHA-256, e.g. from ' +
        '`openssl x509 -noout -fingerprint -sha256 -in cert.pem`) or `tls.caFile` in the config.',
      '',
      'IBKR_TLS_UNTRUSTED',
    );
  }
}

/** A call did not complete within its time limit. */
export class GatewayTimeoutError extends IbkrError {
  override name = 'GatewayTimeoutError';
  constructor(
    endpoint: string,
    readonly timeoutMs: number,
  ) {
    super(`The gateway did not answer ${endpoint} within ${timeoutMs} ms.`, endpoint, 'IBKR_TIMEOUT', true);
  }
}

/** No SSO session (401) or no brokerage session where one is required. */
export class NotAuthenticatedError extends IbkrError {
  override name = 'NotAuthenticatedError';
  constructor(
    readonly baseUrl: string,
    endpoint: string,
    readonly gatewayMessage = 'not authenticated',
  ) {
    super(
      `The gateway at ${baseUrl} has no authenticated session (${endpoint}: ${gatewayMessage}). ` +
        `Log in by opening ${baseUrl.replace(/\/v1\/api\/?$/, '')} in a browser (use the paper ` +
        'username for a paper account), or enable automatic login in the Tandem config.',
      endpoint,
      'IBKR_NOT_AUTHENTICATED',
    );
  }
}

/** HTTP 429, or our own refusal to send because the pacing penalty is still running. */
export class RateLimitedError extends IbkrError {
  override name = 'RateLimitedError';
  constructor(
    endpoint: string,
    readonly retryAfterMs: number,
  ) {
    super(
      `The gateway rate-limited ${endpoint} (HTTP 429); backing off for ${Math.round(retryAfterMs / 1000)} s. ` +
        'Another program using the same gateway may be sending too many requests.',
      endpoint,
      'IBKR_RATE_LIMITED',
      true,
    );
  }
}

/** Codes of an `ApiError`, from the HTTP status and the gateway's words (classified once, here). */
export type ApiErrorCode =
  /** Any other error answer; retryable when the status is 5xx. */
  | 'IBKR_API_ERROR'
  /** "no bridge" / "init session first": the brokerage session is (re)starting; retry shortly. */
  | 'IBKR_NO_BRIDGE'
  /** "Please query /accounts first": the session must be primed, then the call repeated. */
  | 'IBKR_QUERY_ACCOUNTS_FIRST'
  /** The gateway already has an order with this cOID (the first send went through). */
  | 'IBKR_DUPLICATE_COID'
  /** A reply id (order question) expired before it was answered. */
  | 'IBKR_REPLY_EXPIRED';

const NO_BRIDGE = /no bridge|init session first/i;
const QUERY_ACCOUNTS_FIRST = /query \/?accounts first/i;
const DUPLICATE_COID = /already registered|duplicate|local order id/i;
const REPLY_EXPIRED = /reply id not found|reply.*(expired|invalid)/i;

/** The one place that reads the gateway's error text, to give the error its code. */
export function apiErrorCode(gatewayMessage: string): ApiErrorCode {
  if (NO_BRIDGE.test(gatewayMessage)) return 'IBKR_NO_BRIDGE';
  if (QUERY_ACCOUNTS_FIRST.test(gatewayMessage)) return 'IBKR_QUERY_ACCOUNTS_FIRST';
  if (DUPLICATE_COID.test(gatewayMessage)) return 'IBKR_DUPLICATE_COID';
  if (REPLY_EXPIRED.test(gatewayMessage)) return 'IBKR_REPLY_EXPIRED';
  return 'IBKR_API_ERROR';
}

/** Any other error answer of the gateway: non-2xx, or a 2xx body with an `error` key. */
export class ApiError extends IbkrError {
  override name = 'ApiError';
  declare readonly code: ApiErrorCode;
  constructor(
    endpoint: string,
    readonly status: number,
    readonly gatewayMessage: string,
  ) {
    const code = apiErrorCode(gatewayMessage);
    super(`IBKR gateway error on ${endpoint} (HTTP ${status}): ${gatewayMessage || '(no message)'}`, endpoint, code, status >= 500 || code === 'IBKR_NO_BRIDGE');
  }
}

/** A 2xx answer whose JSON does not have the documented shape. */
export class ResponseShapeError extends IbkrError {
  override name = 'ResponseShapeError';
  constructor(
    endpoint: string,
    /** Dotted path of the offending field, e.g. `orders.0.orderId`; '' for the root. */
    readonly field: string,
    readonly detail: string,
  ) {
    super(
      `Unexpected response shape from ${endpoint}: field \`${field || '(root)'}\` ${detail}. ` +
        'The gateway version may have changed its API; please report this.',
      endpoint,
      'IBKR_BAD_RESPONSE',
      true,
    );
  }
}

export interface ContractCandidate {
  conid: number;
  symbol: string;
  description: string;
  secType?: string;
  exchange?: string;
}

export class ContractNotFoundError extends IbkrError {
  override name = 'ContractNotFoundError';
  constructor(
    readonly query: string,
    readonly candidates: ContractCandidate[],
  ) {
    const list = candidates.length
      ? ' Closest matches from the gateway: ' +
        candidates
          .slice(0, 8)
          .map((c) => `${c.symbol} (conid ${c.conid}${c.secType ? `, ${c.secType}` : ''}${c.exchange ? `, ${c.exchange}` : ''}${c.description ? `, ${c.description}` : ''})`)
          .join('; ') +
        '.'
      : ' The gateway returned no candidates.';
    super(`No IBKR contract matches ${query}.${list} Check the symbol, secType, exchange and currency.`, '', 'IBKR_CONTRACT_NOT_FOUND');
  }
}

/** The one rejection error lives in util/errors.ts (every layer throws and catches the same class). */
export { OrderRejectedError } from '../util/errors.ts';

/** The reply policy refused to confirm a question, or the chain was too long; the order was not placed. */
export class OrderQuestionRefusedError extends IbkrError {
  override name = 'OrderQuestionRefusedError';
  constructor(
    endpoint: string,
    readonly cOID: string | undefined,
    readonly messageIds: string[],
    readonly messages: string[],
    reason: string,
  ) {
    super(`Order ${cOID ?? ''} not placed: ${reason} (questions ${messageIds.join(', ') || '?'}: ${messages.join(' / ')})`, endpoint, 'IBKR_ORDER_QUESTION_REFUSED');
  }
}

/**
 * A placement whose outcome could not be established: the gateway timed out or failed and the order
 * did not show up in live orders. It was NOT re-sent; check the account before trading again.
 */
export class OrderOutcomeUnknownError extends IbkrError {
  override name = 'OrderOutcomeUnknownError';
  constructor(
    endpoint: string,
    readonly cOID: string,
    readonly cause0: unknown,
    /** True when the gateway refused the cOID as already registered: the order exists, unseen. */
    readonly exists = false,
  ) {
    super(
      `The outcome of order ${cOID} is unknown: the placement failed (${cause0 instanceof Error ? cause0.message : String(cause0)}) ` +
        'and the order was not found in live orders. It was not re-sent. Check the account in Client Portal ' +
        'before placing it again.',
      endpoint,
      'IBKR_ORDER_OUTCOME_UNKNOWN',
      false,
      cause0,
    );
  }
}

export function isIbkrError(err: unknown): err is IbkrError {
  return err instanceof IbkrError;
}
