/**
 * The engine config (`configs/engine/Engine.yaml`): one file for both modes. Every key has a
 * default, so an empty file (or no file at all) is a valid paper-trading config on the local gateway.
 */
import { z } from 'zod';

/** The Client Portal Gateway's documented global limit (requests per second). */
export const GATEWAY_RATE_LIMIT = 10;
/** The ceiling any configuration may set: IBKR's 50/s for direct Web API access, kept conservative. */
export const MAX_RATE_LIMIT = 40;

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

const path = z.string().trim().min(1);

export const engineSectionShape = {
  gateway: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).default('https://localhost:5000'),
    tls: z.strictObject({
      /** PEM file of a CA (or the gateway's own certificate) to trust. */
      caFile: path.optional(),
      /** SHA-256 fingerprint of the gateway's certificate (hex, colons optional). */
      fingerprint: z.string().trim().regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'a SHA-256 fingerprint: 64 hex digits, colons optional').optional(),
    }).prefault({}),
    timeoutMs: z.number().int().min(1000).max(300_000).default(15_000),
  }).prefault({}),
  mode: z.enum(['paper', 'live']).default('paper'),
  paper: z.strictObject({
    startingCash: z.number().positive().default(100_000),
  }).prefault({}),
  live: z.strictObject({
    /** Live trading starts only when this is true AND the run is confirmed (account id typed, or --yes). */
    enabled: z.boolean().default(false),
  }).prefault({}),
  risk: z.strictObject({
    /** Largest sum of |notional| over all legs, in account currency. */
    maxGrossNotional: z.number().positive().default(100_000),
    /** Largest |notional| of one leg. */
    maxPositionPerLeg: z.number().positive().default(60_000),
    /** Loss since the day's start (realised + unrealised) that flattens and stops the engine. */
    maxDailyLoss: z.number().positive().default(2_000),
    /** The kill switch: if this file exists the engine flattens and stops (relative paths: in dataDir). */
    killSwitchFile: path.default('KILL'),
    /** Allow stock orders outside regular trading hours. */
    allowOutsideRth: z.boolean().default(false),
    /** A decision on a bar older than this many bar lengths (after a stall) is skipped and logged. */
    maxBarAgeBars: z.number().positive().max(1000).default(1),
  }).prefault({}),
  pacing: z.strictObject({
    maxRequestsPerSecond: z.number().positive().max(MAX_RATE_LIMIT).default(GATEWAY_RATE_LIMIT),
  }).prefault({}),
  execution: z.strictObject({
    /** `legs`: two orders back to back; `combo`: one IBKR combo order (US stock pairs only). */
    pairOrders: z.enum(['legs', 'combo']).default('legs'),
    /** Retries of a rejected second leg before the filled first leg is flattened. */
    legRetries: z.number().int().min(0).max(5).default(2),
    /** A lone leg of a pair found at start (a crash between the legs): `flatten` it or `complete` the pair. */
    nakedLeg: z.enum(['complete', 'flatten']).default('flatten'),
    /** Time bound of that action (seconds); while the market is closed it waits for the open. */
    nakedLegTimeoutSeconds: z.number().int().min(5).max(3600).default(120),
    /** Message ids of IBKR's order questions to answer "no" to (the rest are confirmed). */
    refuseMessageIds: z.array(z.string().trim().min(1)).default([]),
    /** Message ids to suppress once per session (POST /iserver/questions/suppress). */
    suppressMessageIds: z.array(z.string().trim().min(1)).default([]),
  }).prefault({}),
  /** Directory for the contract cache, the journal, logs and downloaded history (relative: to the current directory). */
  dataDir: path.default('data'),
  journal: z.strictObject({
    /** SQLite journal of orders and fills; default `<dataDir>/journal.sqlite`. */
    path: path.optional(),
  }).prefault({}),
  logging: z.strictObject({
    level: z.string().trim().transform((s) => s.toUpperCase()).pipe(z.enum(LOG_LEVELS)).default('INFO'),
    file: path.optional(),
  }).prefault({}),
  marketData: z.strictObject({
    source: z.enum(['stream', 'poll']).default('stream'),
    pollIntervalMs: z.number().int().min(250).max(60_000).default(1_000),
  }).prefault({}),
  auth: z.strictObject({
    autoLogin: z.boolean().default(false),
    browserPath: path.default('/usr/bin/chromium'),
    /** How long to wait for a push-notification approval. */
    pushTimeoutSeconds: z.number().int().min(10).max(600).default(120),
  }).prefault({}),
};

/** An engine config file: the engine keys plus the strategy files it runs. */
export const engineFileSchema = z.strictObject({
  kind: z.literal('engine').optional(),
  ...engineSectionShape,
  /**
   * Strategy config files, relative to this file: a path, or `{ file, capitalShare, allowSharedContracts }`.
   * `capitalShare` (0..1]: the strategy's share of the sizing capital (default: equal shares of what
   * the others leave); `allowSharedContracts`: may trade a contract another strategy trades.
   */
  strategies: z.array(z.union([path, z.strictObject({
    file: path,
    capitalShare: z.number().gt(0).max(1).optional(),
    allowSharedContracts: z.boolean().optional(),
  })])).default([]),
});

/** The engine section of a legacy main config (no strategy list: the strategy is in the same file). */
export const engineSectionSchema = z.strictObject(engineSectionShape);

export type EngineConfig = z.output<typeof engineSectionSchema>;
export const ENGINE_KEYS = Object.keys(engineSectionShape);
