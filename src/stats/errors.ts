/**
 * Errors of the statistics module.
 *
 * Bad input to a statistical routine (a NaN price, two legs of different lengths, a series too
 * short for the requested lags, a constant series) is a data problem the user can fix, so it is a
 * `UserError`. `code` lets callers (e.g. a pair scanner) skip a degenerate pair without parsing
 * the message.
 */
import { UserError } from '../util/errors.ts';

export type StatsErrorCode =
  | 'non-finite' // a NaN or infinite value in the input
  | 'length-mismatch' // two series of different lengths
  | 'too-few-observations' // not enough points for the regression / lags asked for
  | 'constant-series' // a series (or a regressor) without variation
  | 'singular' // regressors perfectly collinear, the regression has no unique solution
  | 'invalid-argument'; // an option outside its allowed values

export class StatsError extends UserError {
  override name = 'StatsError';
  declare readonly code: StatsErrorCode;
  constructor(code: StatsErrorCode, message: string) {
    super(message, { code });
  }
}
