/**
 * Every error class Tandem throws has a stable `code` and a `retryable` flag (what programs decide
 * by), and the exit code the CLI gives it comes from its class and code alone. A change to this
 * table is a change of a published contract: scripts and supervisors branch on these.
 */
import { describe, expect, it } from 'vitest';
import { LoginError } from '../src/auth/login-error.ts';
import { BrokerError, PlacementUncertainError } from '../src/brokers/types.ts';
import { ConfigError } from '../src/config/config-error.ts';
import {
  ApiError,
  apiErrorCode,
  ContractNotFoundError,
  GatewayCertificateError,
  GatewayTimeoutError,
  GatewayUnreachableError,
  NotAuthenticatedError,
  OrderOutcomeUnknownError,
  OrderQuestionRefusedError,
  RateLimitedError,
  ResponseShapeError,
} from '../src/ibkr/errors.ts';
import { OAuthError } from '../src/ibkr/oauth/errors.ts';
import { ResponseTooLargeError } from '../src/ibkr/transport.ts';
import { StatsError } from '../src/stats/errors.ts';
import { StorageError, storageError } from '../src/store/storage-error.ts';
import { isRetryable, OrderRejectedError, TandemError, UserError } from '../src/util/errors.ts';
import { EXIT, exitCodeFor } from '../src/util/exit-codes.ts';
import * as brokerTypes from '../src/brokers/types.ts';
import * as ibkrErrors from '../src/ibkr/errors.ts';

const cases: [string, TandemError, string, boolean, number][] = [
  ['UserError (default)', new UserError('x'), 'TANDEM_USER_ERROR', false, EXIT.userError],
  ['UserError (file)', new UserError('x', 'TANDEM_FILE_NOT_FOUND'), 'TANDEM_FILE_NOT_FOUND', false, EXIT.userError],
  ['UserError (checks failed)', new UserError('x', 'TANDEM_CHECKS_FAILED'), 'TANDEM_CHECKS_FAILED', false, EXIT.checksFailed],
  ['UserError (risk stop)', new UserError('x', 'TANDEM_RISK_STOP'), 'TANDEM_RISK_STOP', false, EXIT.riskStop],
  ['UserError (flatten)', new UserError('x', 'TANDEM_FLATTEN_INCOMPLETE'), 'TANDEM_FLATTEN_INCOMPLETE', false, EXIT.flattenIncomplete],
  ['UserError (unhealthy)', new UserError('x', 'TANDEM_UNHEALTHY'), 'TANDEM_UNHEALTHY', false, EXIT.unhealthy],
  ['ConfigError', new ConfigError([{ file: 'a.yaml', line: 1, message: 'bad' }]), 'TANDEM_CONFIG_INVALID', false, EXIT.userError],
  ['StorageError', new StorageError('TANDEM_STORAGE_FULL', 'full', 'SQLITE_FULL'), 'TANDEM_STORAGE_FULL', false, EXIT.userError],
  ['StatsError', new StatsError('non-finite', 'NaN'), 'non-finite', false, EXIT.userError],
  ['GatewayUnreachableError (refused)', new GatewayUnreachableError('https://h', 'GET /x', 'refused'), 'IBKR_GATEWAY_UNREACHABLE', false, EXIT.broker],
  ['GatewayUnreachableError (reset)', new GatewayUnreachableError('https://h', 'GET /x', 'the connection was reset', true), 'IBKR_GATEWAY_UNREACHABLE', true, EXIT.broker],
  ['GatewayCertificateError', new GatewayCertificateError('https://h', 'pin'), 'IBKR_TLS_UNTRUSTED', false, EXIT.broker],
  ['GatewayTimeoutError', new GatewayTimeoutError('GET /x', 10), 'IBKR_TIMEOUT', true, EXIT.broker],
  ['NotAuthenticatedError', new NotAuthenticatedError('https://h/v1/api', 'GET /x'), 'IBKR_NOT_AUTHENTICATED', false, EXIT.broker],
  ['RateLimitedError', new RateLimitedError('GET /x', 1000), 'IBKR_RATE_LIMITED', true, EXIT.broker],
  ['ApiError 400', new ApiError('GET /x', 400, 'bad request'), 'IBKR_API_ERROR', false, EXIT.broker],
  ['ApiError 503', new ApiError('GET /x', 503, 'unavailable'), 'IBKR_API_ERROR', true, EXIT.broker],
  ['ApiError no bridge', new ApiError('POST /o', 400, 'no bridge'), 'IBKR_NO_BRIDGE', true, EXIT.broker],
  ['ApiError duplicate', new ApiError('POST /o', 400, 'Order with this local order id already registered'), 'IBKR_DUPLICATE_COID', false, EXIT.broker],
  ['ResponseShapeError', new ResponseShapeError('GET /x', 'a', 'missing'), 'IBKR_BAD_RESPONSE', true, EXIT.broker],
  ['ContractNotFoundError', new ContractNotFoundError('NOPE', []), 'IBKR_CONTRACT_NOT_FOUND', false, EXIT.broker],
  ['OrderQuestionRefusedError', new OrderQuestionRefusedError('POST /o', 'c1', ['o163'], ['?'], 'policy'), 'IBKR_ORDER_QUESTION_REFUSED', false, EXIT.broker],
  ['OrderOutcomeUnknownError', new OrderOutcomeUnknownError('POST /o', 'c1', new Error('timeout')), 'IBKR_ORDER_OUTCOME_UNKNOWN', false, EXIT.broker],
  ['ResponseTooLargeError', new ResponseTooLargeError('GET /x', 1024), 'IBKR_RESPONSE_TOO_LARGE', false, EXIT.broker],
  ['OAuthError', new OAuthError('oauth-lst-refused', 'refused', '', true), 'oauth-lst-refused', true, EXIT.broker],
  ['OrderRejectedError', new OrderRejectedError('c1', 'no margin'), 'ORDER_REJECTED', false, EXIT.broker],
  ['OrderRejectedError (duplicate)', new OrderRejectedError('c1', 'already registered', true), 'DUPLICATE_COID', false, EXIT.broker],
  ['BrokerError', new BrokerError('down', 'BROKER_UNAVAILABLE', true), 'BROKER_UNAVAILABLE', true, EXIT.broker],
  ['PlacementUncertainError', new PlacementUncertainError('c1', 'timeout'), 'PLACEMENT_UNCERTAIN', false, EXIT.broker],
  ['LoginError (rejected)', new LoginError('no', 'rejected'), 'LOGIN_REJECTED', true, EXIT.broker],
  ['LoginError (code needed)', new LoginError('no', 'code-needed'), 'LOGIN_CODE_NEEDED', false, EXIT.broker],
];

describe('error codes', () => {
  it.each(cases)('%s: stable code, retryable flag and exit code', (_name, err, code, retryable, exit) => {
    expect(err).toBeInstanceOf(TandemError);
    expect(err).toBeInstanceOf(UserError);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(isRetryable(err)).toBe(retryable);
    expect(exitCodeFor(err)).toBe(exit);
    expect((err as UserError).exitCode).toBe(exit);
  });

  it('the code does not depend on the message: the same class with other words keeps its code', () => {
    expect(new GatewayTimeoutError('GET /other', 99_999).code).toBe('IBKR_TIMEOUT');
    expect(new UserError('completely different words', 'TANDEM_FILE_INVALID').code).toBe('TANDEM_FILE_INVALID');
    // Retry decisions read the flag, not the text: a message that says "reset" is not a reset.
    expect(new GatewayUnreachableError('https://h', 'GET /x', 'the connection was reset').retryable).toBe(false);
  });

  it('the gateway\'s words are classified once into ApiError codes', () => {
    expect(apiErrorCode('Init session first')).toBe('IBKR_NO_BRIDGE');
    expect(apiErrorCode('Please query /accounts first')).toBe('IBKR_QUERY_ACCOUNTS_FIRST');
    expect(apiErrorCode('Order with this client order id is already registered')).toBe('IBKR_DUPLICATE_COID');
    expect(apiErrorCode('reply id not found')).toBe('IBKR_REPLY_EXPIRED');
    expect(apiErrorCode('Insufficient margin')).toBe('IBKR_API_ERROR');
  });

  it('there is one OrderRejectedError: the broker interface and the IBKR client export the same class', () => {
    expect(brokerTypes.OrderRejectedError).toBe(OrderRejectedError);
    expect(ibkrErrors.OrderRejectedError).toBe(OrderRejectedError);
  });

  it('storage failures get their code from the SQLite / system code', () => {
    const of = (code: string) => storageError(Object.assign(new Error('x'), { code }), '/j.sqlite')?.code;
    expect([of('SQLITE_NOTADB'), of('SQLITE_CORRUPT_VTAB'), of('EROFS'), of('ENOSPC'), of('SQLITE_CANTOPEN'), of('SQLITE_IOERR_WRITE'), of('SQLITE_BUSY')])
      .toEqual(['TANDEM_STORAGE_CORRUPT', 'TANDEM_STORAGE_CORRUPT', 'TANDEM_STORAGE_READONLY', 'TANDEM_STORAGE_FULL', 'TANDEM_STORAGE_CANTOPEN', 'TANDEM_STORAGE_IO', undefined]);
  });
});
