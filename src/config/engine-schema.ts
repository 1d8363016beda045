/**
 * The engine config (`configs/engine/Engine.yaml`): one file for both modes. Every key has a
 * default, so an empty file (or no file at all) is a valid paper-trading config on the local gateway.
 */
import { z } from 'zod';
import { insecureGatewayReason } from '../util/loopback.ts';

/** The Client Portal Gateway's documented global limit (requests per second). */
export const GATEWAY_RATE_LIMIT = 10;
/** The ceiling any configuration may set: IBKR's 50/s for direct Web API access, kept conservative. */
export const MAX_RATE_LIMIT = 40;
/** IBKR's documented global limit for direct (OAuth) access: the highest ceiling an OAuth config may raise to. */
export const DIRECT_ACCESS_RATE_LIMIT = 50;

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type ConfigLogLevel = (typeof LOG_LEVELS)[number];

const path = z.string().trim().min(1);

/** Events that can raise an alert (`notify.events`). */
export const ALERT_KINDS = ['fill', 'halt', 'legging', 'session-lost', 'foreign-position'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const engineSectionShape = {
  gateway: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).superRefine((u, ctx) => {
      const reason = insecureGatewayReason(u);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    }).default('https://localhost:5000'),
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
  /** `gateway`: the local Client Portal Gateway; `oauth`: IBKR's API directly, OAuth 1.0a signed (docs/oauth.md). */
  connection: z.enum(['gateway', 'oauth']).default('gateway'),
  oauth: z.strictObject({
    /** IBKR's direct API (the `/v1/api` base is appended). */
    url: z.url({ protocol: /^https?$/ }).default('https://api.ibkr.com'),
    /** The consumer key chosen on IBKR's OAuth page (9 characters). */
    consumerKey: z.string().trim().min(1).optional(),
    /** The access token shown on IBKR's OAuth page (its secret goes into .env as IBKR_OAUTH_ACCESS_TOKEN_SECRET). */
    accessToken: z.string().trim().min(1).optional(),
    /** Directory of the files `tandem oauth init` wrote (relative: to the current directory). */
    keyDir: path.default('keys/ibkr-oauth'),
    /** Override single files; default: the standard names inside keyDir. */
    signatureKeyFile: path.optional(),
    encryptionKeyFile: path.optional(),
    dhParamFile: path.optional(),
    /** `limited_poa` for self-registered keys; `test_realm` only for IBKR's TESTCONS consumer. */
    realm: z.string().trim().min(1).default('limited_poa'),
  }).prefault({}),
  pacing: z.strictObject({
    /** Default: 10 (the gateway's limit) with connection gateway, 40 with connection oauth. */
    maxRequestsPerSecond: z.number().positive().max(DIRECT_ACCESS_RATE_LIMIT).optional(),
    /** The highest budget accepted: 40, raisable up to IBKR's 50/s with connection oauth only. */
    ceiling: z.number().positive().max(DIRECT_ACCESS_RATE_LIMIT).default(MAX_RATE_LIMIT),
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
  /** Alerts (src/observe/notify.ts): a generic JSON webhook and/or a Telegram bot. Secrets come from .env. */
  notify: z.strictObject({
    /** Which events alert (default: all). */
    events: z.array(z.enum(ALERT_KINDS)).min(1).default([...ALERT_KINDS]),
    /** `session-lost` alerts when the brokerage session has been down this long. */
    sessionLostMinutes: z.number().positive().max(1440).default(5),
    webhook: z.strictObject({
      /** Receives a JSON POST per alert; write `${WEBHOOK_URL}` to keep a secret URL in .env. */
      url: z.url({ protocol: /^https?$/ }),
      events: z.array(z.enum(ALERT_KINDS)).min(1).optional(),
    }).optional(),
    telegram: z.strictObject({
      chatId: z.union([z.string().trim().min(1), z.number().int()]).transform(String),
      /** The variable in .env holding the bot token (never written in a config file). */
      tokenEnv: z.string().trim().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('TELEGRAM_BOT_TOKEN'),
      apiUrl: z.url({ protocol: /^https?$/ }).default('https://api.telegram.org'),
      events: z.array(z.enum(ALERT_KINDS)).min(1).optional(),
    }).optional(),
  }).prefault({}),
  auth: z.strictObject({
    autoLogin: z.boolean().default(false),
    browserPath: path.default('/usr/bin/chromium'),
    /** How long to wait for a push-notification approval. */
    pushTimeoutSeconds: z.number().int().min(10).max(600).default(120),
  }).prefault({}),
};

interface ConnectionPart {
  connection: 'gateway' | 'oauth';
  oauth: { consumerKey?: string | undefined; accessToken?: string | undefined };
  pacing: { maxRequestsPerSecond?: number | undefined; ceiling: number };
  auth: { autoLogin: boolean };
}

/**
 * The connection rules: the pacing ceiling is 40/s unless an OAuth config raises it (up to IBKR's
 * 50/s for direct access); the budget must fit under the ceiling; OAuth needs its consumer key and
 * access token.
 */
function checkConnection(cfg: ConnectionPart, ctx: z.RefinementCtx): void {
  const { ceiling, maxRequestsPerSecond } = cfg.pacing;
  if (cfg.connection !== 'oauth' && ceiling > MAX_RATE_LIMIT) {
    ctx.addIssue({ code: 'too_big', origin: 'number', maximum: MAX_RATE_LIMIT, inclusive: true, path: ['pacing', 'ceiling'], input: ceiling,
      message: `above ${MAX_RATE_LIMIT} only with connection: oauth (the gateway allows ${GATEWAY_RATE_LIMIT}/s)` });
  }
  if (maxRequestsPerSecond !== undefined && maxRequestsPerSecond > ceiling) {
    ctx.addIssue({ code: 'too_big', origin: 'number', maximum: ceiling, inclusive: true, path: ['pacing', 'maxRequestsPerSecond'], input: maxRequestsPerSecond,
      message: cfg.connection === 'oauth'
        ? `the pacing ceiling; with connection: oauth you may raise pacing.ceiling up to IBKR's ${DIRECT_ACCESS_RATE_LIMIT}/s`
        : 'the pacing ceiling' });
  }
  if (cfg.connection === 'oauth' && cfg.auth.autoLogin) {
    ctx.addIssue({ code: 'custom', path: ['auth', 'autoLogin'], input: true,
      message: "auth.autoLogin logs in on the gateway's page; with connection: oauth there is no login. Fix: set auth.autoLogin: false (or remove it)." });
  }
  if (cfg.connection === 'oauth') {
    for (const key of ['consumerKey', 'accessToken'] as const) {
      if (!cfg.oauth[key]) {
        ctx.addIssue({ code: 'custom', path: ['oauth', key], input: undefined,
          message: `oauth.${key} is required with connection: oauth. Fix: copy it from IBKR's OAuth page (see docs/oauth.md).` });
      }
    }
  }
}

/** Fills the budget default of the connection: 10/s through the gateway, 40/s direct. */
function withPacingDefault<T extends ConnectionPart>(cfg: T): Omit<T, 'pacing'> & { pacing: { maxRequestsPerSecond: number; ceiling: number } } {
  const fallback = cfg.connection === 'oauth' ? MAX_RATE_LIMIT : GATEWAY_RATE_LIMIT;
  return { ...cfg, pacing: { ...cfg.pacing, maxRequestsPerSecond: cfg.pacing.maxRequestsPerSecond ?? fallback } };
}

/** An engine config file: the engine keys plus the strategy files it runs. */
export const engineFileSchema = z
  .strictObject({
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
  })
  .superRefine(checkConnection)
  .transform(withPacingDefault);

/** The engine section of a legacy main config (no strategy list: the strategy is in the same file). */
export const engineSectionSchema = z.strictObject(engineSectionShape).superRefine(checkConnection).transform(withPacingDefault);

export type EngineConfig = z.output<typeof engineSectionSchema>;
export const ENGINE_KEYS = Object.keys(engineSectionShape);
