/**
 * `tandem run --config FILE [--mode paper|live] [--gateway URL] [--max-bars N] [--exit-after DURATION]
 *  [--yes] [--flatten-on-exit]`: the live engine (docs/engine.md).
 *
 * Signals: SIGINT/SIGTERM stop new decisions and shut down within a bounded time (a second one exits
 * at once); SIGUSR2 is the kill switch (flatten and stop). Exit codes: see src/util/exit-codes.ts.
 */
import { Option, type Command } from 'commander';
import { configOption, modeOption } from './options.ts';
import { UserError } from '../util/errors.ts';
import { EXIT } from '../util/exit-codes.ts';
import type { AutoLogin } from '../auth/auto-login.ts';
import type { Observation } from '../observe/attach.ts';
import { parsePort } from './dashboard.ts';

interface RunOpts {
  config: string;
  mode?: 'paper' | 'live';
  gateway?: string;
  maxBars?: string;
  exitAfter?: string;
  yes?: boolean;
  flattenOnExit?: boolean;
  dashboard?: string | boolean;
  dashboardHost?: string;
  allowRemote?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the live engine for a strategy (paper by default)')
    .addOption(configOption().makeOptionMandatory())
    .addOption(modeOption())
    .option('--gateway <url>', 'Client Portal Gateway URL (overrides the config)')
    .option('--max-bars <n>', 'stop after this many live bars')
    .option('--exit-after <duration>', 'stop after this long (e.g. 90s, 30m, 2h)')
    .option('--yes', 'confirm live trading without typing the account id (non-interactive use)')
    .option('--flatten-on-exit', 'close the strategy positions when stopping (default: leave them)')
    .option('--dashboard [port]', 'serve the live dashboard, /metrics and /healthz (loopback; a free port unless given)')
    .option('--dashboard-host <addr>', 'address the dashboard binds (non-loopback needs --allow-remote)', '127.0.0.1')
    .option('--allow-remote', 'allow the dashboard on a non-loopback address (the token is still required)')
    .addOption(new Option('--json', 'print the final summary as JSON').hideHelp())
    .action(async (opts: RunOpts & { json?: boolean }) => {
      // Loaded here, not at the top: `tandem --help` should not pay for the engine (see commands.ts).
      const { loadRuntime } = await import('./runtime.ts');
      const { buildEngine, parseDuration } = await import('./engine-setup.ts');
      const { authSettingsFromConfig, createAutoLogin } = await import('../auth/settings.ts');
      const { attachAutoLogin, sessionAuthApi } = await import('../auth/session-hook.ts');
      const { accountForMode } = await import('../config/env.ts');
      const maxBars = opts.maxBars === undefined ? undefined : Number(opts.maxBars);
      if (maxBars !== undefined && !(Number.isInteger(maxBars) && maxBars > 0)) throw new UserError(`--max-bars "${opts.maxBars}" must be a positive whole number.`);
      const exitAfterMs = opts.exitAfter === undefined ? undefined : parseDuration(opts.exitAfter);
      const { config, logger } = loadRuntime({ config: opts.config, ...(opts.mode ? { mode: opts.mode } : {}), ...(opts.gateway ? { gateway: opts.gateway } : {}) });
      // One node per journal (src/store/lock.ts): a second start exits 2 naming the holder's PID.
      const lock = (await import('../store/lock.ts')).JournalLock.acquire(config.engine.journal.path);
      const dashboardPort = typeof opts.dashboard === 'string' ? parsePort(opts.dashboard, '--dashboard') : undefined;
      // ---- observation (issue 15): status record, trade lines, metrics, alerts, dashboard; fed by the engine's events.
      let observation: Observation | undefined;
      const { engine, journal, client } = await buildEngine(config, logger, {
        yes: Boolean(opts.yes), maxBars, exitAfterMs, flattenOnExit: Boolean(opts.flattenOnExit),
        onEvent: (e) => observation?.observer.onEvent(e),
      });
      let stopReason: string | null = null;
      let signals = 0;
      const onStop = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) {
          process.stderr.write(`second ${sig}: exiting now (open orders are in the journal; the next start reconciles them)\n`);
          process.exit(EXIT.interrupted);
        }
        process.stderr.write(`${sig}: stopping (no new decisions, waiting for orders in flight; ${sig} again exits at once)\n`);
        void engine.stop('signal');
      };
      const onKill = (): void => void engine.kill('SIGUSR2');
      process.on('SIGINT', onStop);
      process.on('SIGTERM', onStop);
      process.on('SIGUSR2', onKill);
      // auth.autoLogin: log in through the gateway's page before the engine starts, and again
      // whenever the client reports the session lost (the engine pauses meanwhile and resumes on
      // the session's 'restored' event).
      let autoLogin: AutoLogin | undefined;
      let detachAutoLogin = (): void => undefined;
      try {
        const { attachObservation } = await import('../observe/attach.ts');
        observation = await attachObservation({
          config, logger, accountId: accountForMode(config.mode, config.credentials), pacingQueue: () => client.pacer.pending,
          ...(opts.dashboard ? { dashboard: { host: opts.dashboardHost ?? '127.0.0.1', allowRemote: Boolean(opts.allowRemote), ...(dashboardPort !== undefined ? { port: dashboardPort } : {}) } } : {}),
        });
        if (observation.dashboard) process.stderr.write(`dashboard: ${observation.dashboard.pageUrl}\n`);
        // ---- end observation
        if (config.engine.auth.autoLogin) {
          autoLogin = createAutoLogin(authSettingsFromConfig(config), logger, { api: sessionAuthApi(client.session, config.engine.gateway.url) });
          await autoLogin.ensureAuthenticated();
          detachAutoLogin = attachAutoLogin(client.session, autoLogin, logger);
        }
        const summary = await engine.run();
        stopReason = summary.stopReason;
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          process.stdout.write(
            `stopped (${summary.stopReason}) after ${summary.bars} bars: ${summary.decisions} decisions, ${summary.orders} orders, ${summary.fills} fills; ` +
              `equity ${summary.equity} (start ${summary.startEquity}); positions ${summary.positions.map((p) => `${p.symbol} ${p.qty}`).join(', ') || 'none'}\n`,
          );
        }
        if (summary.stopReason === 'kill-switch' || summary.stopReason === 'daily-loss') {
          throw new UserError(`the engine stopped on a risk limit (${summary.stopReason}); positions were flattened. See the journal's incidents.`, EXIT.riskStop);
        }
      } finally {
        detachAutoLogin();
        autoLogin?.stop();
        process.off('SIGINT', onStop);
        process.off('SIGTERM', onStop);
        process.off('SIGUSR2', onKill);
        await observation?.close(stopReason);
        journal.close();
        lock.release();
        // Idempotent; needed when the start-up failed (the keep-alive timer would hold the process).
        await client.close().catch(() => undefined);
      }
    });
}
