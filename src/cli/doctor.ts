/**
 * `tandem doctor [--config FILE] [--gateway URL]`: checks the whole path to IBKR and prints one line
 * per check with its fix. Exit code 0 when nothing failed, 5 (EXIT.checksFailed) otherwise.
 *
 * With --config, the gateway (URL, TLS pin, timeout), the pacing budget, the data directory, the
 * account of the mode (from .env / the environment) and the instruments of every strategy come from
 * the config; --gateway, --paper-account, --live-account and --instrument add to or override it.
 * With --config, doctor also lists the account's foreign positions (held at the broker, traded by no
 * strategy of the config's journal): the node's own classification, see doctor-foreign.ts.
 */
import type { Command } from 'commander';
import type { Mode } from '../config/env.ts';
import type { AuthSettings } from '../auth/settings.ts';
import type { DoctorExpectations, DoctorLine } from '../ibkr/doctor.ts';
import { isUserError } from '../util/errors.ts';
import type { ContractQuery } from '../ibkr/contracts.ts';
import type { TlsOptions } from '../ibkr/tls.ts';
import type { Logger } from '../log/logger.ts';
import { UserError } from '../util/errors.ts';
import { scrubSecrets } from '../util/secrets.ts';
import { configOption, gatewayUrl, modeOption } from './options.ts';
import type { OAuthCredentials } from '../ibkr/oauth/signer.ts';

interface DoctorCliOptions {
  gateway?: string;
  config?: string;
  mode?: Mode;
  paperAccount?: string[];
  liveAccount?: string[];
  instrument?: string[];
  caFile?: string;
  fingerprint?: string;
  dataDir?: string;
  json?: boolean;
}

/** `SYMBOL[:SECTYPE[:EXCHANGE[:CURRENCY]]]`, e.g. `BTC:CRYPTO:PAXOS`, `ETHA`, `SPY:STK:ARCA:USD`. */
export function parseInstrument(spec: string): ContractQuery {
  const [symbol, secType, exchange, currency] = spec.split(':');
  if (!symbol) throw new UserError(`--instrument "${spec}": expected SYMBOL[:SECTYPE[:EXCHANGE[:CURRENCY]]]`, 'TANDEM_BAD_OPTION');
  return { symbol, secType: secType || undefined, exchange: exchange || undefined, currency: currency || undefined };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface Leg {
  symbol: string;
  secType: string;
  exchange?: string;
  currency?: string;
}

/** The legs of every strategy in the config (strategy.legs.{y,x} for the cointegration type). */
function strategyInstruments(strategies: { strategy: Record<string, unknown> }[]): ContractQuery[] {
  const out: ContractQuery[] = [];
  for (const s of strategies) {
    const legs = s.strategy.legs as Record<string, Leg> | undefined;
    for (const leg of Object.values(legs ?? {})) {
      if (leg && typeof leg.symbol === 'string') out.push({ symbol: leg.symbol, secType: leg.secType, exchange: leg.exchange, currency: leg.currency });
    }
  }
  return out;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check the gateway, TLS, login, brokerage session, accounts, instruments and market data')
    .addOption(configOption())
    .addOption(modeOption())
    .option('--gateway <url>', 'Client Portal Gateway URL (default: the config\'s, else https://localhost:5000)', gatewayUrl)
    .option('--paper-account <id>', 'expected paper account (repeatable)', collect)
    .option('--live-account <id>', 'expected live account (repeatable)', collect)
    .option('--instrument <spec>', 'instrument to resolve and quote, SYMBOL[:SECTYPE[:EXCHANGE[:CURRENCY]]] (repeatable)', collect)
    .option('--ca-file <file>', 'PEM CA that signs the gateway certificate')
    .option('--fingerprint <sha256>', 'SHA-256 fingerprint of the gateway certificate')
    .option('--data-dir <dir>', 'data directory (contract cache); default: the config\'s, else data')
    .option('--json', 'print the checklist as JSON')
    .action(async (opts: DoctorCliOptions) => {
      // Loaded here, not at the top: `tandem --help` should not pay for the IBKR client (see commands.ts).
      const { accountForMode, loadEnv } = await import('../config/env.ts');
      const { autoLoginChecksFor } = await import('../auth/checks.ts');
      const { authSettingsFromConfig, resolveAuthSettings } = await import('../auth/settings.ts');
      const { IbkrClient } = await import('../ibkr/client.ts');
      const { formatDoctor, runDoctor } = await import('../ibkr/doctor.ts');
      const { loadRuntime } = await import('./runtime.ts');
      const { oauthSettingsOf } = await import('./connection.ts');
      let baseUrl = opts.gateway ?? process.env.IBKR_GATEWAY_URL ?? 'https://localhost:5000';
      let tls: TlsOptions | undefined;
      let timeoutMs = 10_000;
      let maxRequestsPerSecond: number | undefined;
      let dataDir = opts.dataDir ?? 'data';
      let logger: Logger | undefined;
      let auth: AuthSettings | undefined;
      /** Problems found in the config itself, reported as checklist lines rather than aborting. */
      const configLines: DoctorLine[] = [];
      /** With --config: the account of the mode and the journal, for the foreign-positions line. */
      let foreignCheck: { accountId: string; journalFile: string } | undefined;
      /** connection: oauth — the credentials when the offline checks passed. */
      let oauth: { credentials: OAuthCredentials | undefined; ceiling: number } | undefined;
      const expectations: DoctorExpectations = {
        paperAccounts: [...(opts.paperAccount ?? [])],
        liveAccounts: [...(opts.liveAccount ?? [])],
        instruments: (opts.instrument ?? []).map(parseInstrument),
      };
      if (opts.config) {
        const { config, logger: log } = loadRuntime({ config: opts.config, mode: opts.mode, gateway: opts.gateway });
        logger = log;
        baseUrl = config.engine.gateway.url;
        tls = config.engine.gateway.tls;
        timeoutMs = config.engine.gateway.timeoutMs;
        maxRequestsPerSecond = config.engine.pacing.maxRequestsPerSecond;
        dataDir = opts.dataDir ?? config.engine.dataDir;
        auth = authSettingsFromConfig(config);
        if (config.engine.connection === 'oauth') {
          const { oauthFileChecks } = await import('../ibkr/oauth/doctor.ts');
          const checks = oauthFileChecks(oauthSettingsOf(config.engine), loadEnv());
          configLines.push(...checks.lines);
          oauth = { credentials: checks.credentials, ceiling: config.engine.pacing.ceiling };
          baseUrl = config.engine.oauth.url;
          tls = undefined;
        }
        try {
          const account = accountForMode(config.mode, config.credentials);
          (config.mode === 'paper' ? expectations.paperAccounts! : expectations.liveAccounts!).push(account);
          if (config.engine.journal.path) foreignCheck = { accountId: account, journalFile: config.engine.journal.path };
        } catch (e) {
          if (!isUserError(e)) throw e;
          const [detail, fix] = e.message.split(' Fix: ');
          configLines.push({ check: `${config.mode} account`, status: 'fail', detail: detail ?? e.message, ...(fix ? { fix } : {}) });
        }
        expectations.instruments!.push(...strategyInstruments(config.strategies as unknown as { strategy: Record<string, unknown> }[]));
      }
      if (opts.caFile || opts.fingerprint) tls = { caFile: opts.caFile, fingerprint: opts.fingerprint };
      if (oauth && !oauth.credentials) {
        // The OAuth files or settings are wrong: nothing online can be checked.
        const lines = [...configLines, ...['live session token', 'brokerage session', 'accounts'].map((check): DoctorLine => ({ check, status: 'skip', detail: 'skipped: an earlier check failed' }))];
        process.stdout.write(opts.json ? JSON.stringify(lines, null, 2) + '\n' : formatDoctor(lines) + '\n');
        throw new UserError(`${lines.filter((l) => l.status === 'fail').length} check(s) failed`, 'TANDEM_CHECKS_FAILED');
      }
      const client = new IbkrClient({
        baseUrl, tls, dataDir, timeoutMs, maxRequestsPerSecond, logger, retries: 1,
        ...(oauth?.credentials ? { oauth: oauth.credentials, maxRequestsCeiling: oauth.ceiling } : {}),
      });
      try {
        auth ??= resolveAuthSettings({ ...(opts.mode ? { mode: opts.mode } : {}), gateway: baseUrl, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
        const online = await runDoctor(client, expectations);
        if (foreignCheck) {
          const accountsOk = online.some((l) => l.check === 'accounts' && l.status === 'ok');
          const { foreignPositionsLine } = await import('./doctor-foreign.ts');
          online.push(accountsOk
            ? await foreignPositionsLine({ client, ...foreignCheck })
            : { check: 'foreign positions', status: 'skip', detail: 'skipped: the account check did not pass' });
        }
        const lines = [...configLines, ...online, ...(oauth ? [] : autoLoginChecksFor(auth))];
        process.stdout.write(scrubSecrets(opts.json ? JSON.stringify(lines, null, 2) + '\n' : formatDoctor(lines) + '\n'));
        const failed = lines.filter((l) => l.status === 'fail').length;
        if (failed) throw new UserError(`${failed} check(s) failed`, 'TANDEM_CHECKS_FAILED');
      } finally {
        await client.close();
      }
    });
}
