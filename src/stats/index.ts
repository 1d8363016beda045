/**
 * Tandem statistics: cointegration tests that agree with statsmodels, and O(1) rolling figures for
 * the live loop. See docs/stats.md for what each function computes and the conventions.
 */
export { StatsError, type StatsErrorCode } from './errors.ts';
export { ols, type OlsResult } from './ols.ts';
export { adf, defaultMaxLag, type AdfOptions, type AdfResult, type AutoLag } from './adf.ts';
export { mackinnonp, mackinnoncrit, type CriticalValues, type Regression } from './mackinnon.ts';
export { engleGranger, scanPairs, type EngleGrangerOptions, type EngleGrangerResult, type PairScanResult } from './engle-granger.ts';
export { RollingOls, RollingZScore, type RollingOptions } from './rolling.ts';
export { normalCdf } from './normal.ts';
export { johansen, type JohansenResult } from './johansen.ts';
export { halfLife } from './half-life.ts';
export { kalmanHedge, KalmanHedge, type KalmanHedgeOptions, type KalmanHedgeResult, type KalmanHedgeState } from './kalman.ts';
