/**
 * `tandem run --config FILE [--mode paper|live] [--gateway URL] [--max-bars N] [--exit-after DURATION]
 *  [--yes] [--flatten-on-exit]`: the trading node (docs/engine.md). An engine config runs every
 * strategy it lists in one process (one session, one pacing budget, one stream, one journal); a
 * strategy file alone runs that strategy.
 *
 * Signals: SIGINT/SIGTERM stop new decisions and shut down within a bounded time; a second one
 * cancels the orders still working at the broker (listing loudly any it could not cancel) and exits
 * 130. SIGUSR2 is the kill switch (flatten and stop). Exit codes: see src/util/exit-codes.ts.
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
    .description('run the trading node: every strategy of an engine config, or one strategy file (paper by default)')
    .addOption(configOption().makeOptionMandatory())
    .addOption(modeOption())
    .option('--gateway <url>', 'Client Portal Gateway URL (overrides the config)')
    .option('--max-bars <n>', 'stop after this many live bars')
    .option('--exit-after <duration>', 'stop after this long (e.g. 90s, 30m, 2h)')
    .option('--yes', 'confirm live trading without typing the account id (non-interactive use)')
    .option('--flatten-on-exit', 'close the strategies\' positions when stopping, if their markets are open (default: leave them)')
    .option('--dashboard [port]', 'serve the live dashboard, /metrics and /healthz (loopback; a free port unless given)')
    .option('--dashboard-host <addr>', 'address the dashboard binds (non-loopback needs --allow-remote)', '127.0.0.1')
    .option('--allow-remote', 'allow the dashboard on a non-loopback address (the token is still required)')
    .addOption(new Option('--json', 'print the final summary as JSON').hideHelp())
    .action(async (opts: RunOpts & { json?: boolean }) => {
      // Loaded here, not at the top: `tandem --help` should not pay for the engine (see commands.ts).
      const { loadRuntime } = await import('./runtime.ts');
      const { buildNode, parseDuration } = await import('./engine-setup.ts');
      const { authSettingsFromConfig, createAutoLogin } = await import('../auth/settings.ts');
      const { attachAutoLogin, sessionAuthApi } = await import('../auth/session-hook.ts');
      const { accountForMode } = await import('../config/env.ts');
      const maxBars = opts.maxBars === undefined ? undefined : Number(opts.maxBars);
      if (maxBars !== undefined && !(Number.isInteger(maxBars) && maxBars > 0)) throw new UserError(`--max-bars "${opts.maxBars}" must be a positive whole number.`, 'TANDEM_BAD_OPTION');
      const exitAfterMs = opts.exitAfter === undefined ? undefined : parseDuration(opts.exitAfter);
      const { config, logger } = loadRuntime({ config: opts.config, ...(opts.mode ? { mode: opts.mode } : {}), ...(opts.gateway ? { gateway: opts.gateway } : {}) });
      // One node per journal (src/store/lock.ts): a second start exits 2 naming the holder's PID.
      const lock = (await import('../store/lock.ts')).JournalLock.acquire(config.engine.journal.path);
      const dashboardPort = typeof opts.dashboard === 'string' ? parsePort(opts.dashboard, '--dashboard') : undefined;
      // ---- observation (issue 15): status record, trade lines, metrics, alerts, dashboard; fed by the engine's events.
      let observation: Observation | undefined;
      const { node, journal, client } = await buildNode(config, logger, {
        yes: Boolean(opts.yes), maxBars, exitAfterMs, flattenOnExit: Boolean(opts.flattenOnExit),
        onEvent: (e) => observation?.observer.onEvent(e),
      });
      let stopReason: string | null = null;
      let signals = 0;
      const onStop = (sig: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) {
          if (signals > 2) return; // already cancelling
          process.stderr.write(`second ${sig}: cancelling the orders still working at the broker, then exiting\n`);
          void node.cancelWorkingOrders().then((failed) => {
            if (failed.length) {
              process.stderr.write(`COULD NOT CANCEL ${failed.length} working order(s); cancel them in Client Portal or TWS:\n`);
              for (const f of failed) process.stderr.write(`  cOID ${f.cOID}  broker order id ${f.brokerOrderId ?? 'unknown'}  ${f.side} ${f.symbol}  (${f.state})\n`);
            } else {
              process.stderr.write('no order left working at the broker (the journal has them; the next start reconciles)\n');
            }
            journal.close();
            process.exit(EXIT.interrupted);
          });
          return;
        }
        process.stderr.write(`${sig}: stopping (no new decisions, waiting for orders in flight; ${sig} again cancels working orders and exits)\n`);
        void node.stop('signal');
      };
      const onKill = (): void => void node.kill('SIGUSR2');
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
        const summary = await node.run();
        stopReason = summary.stopReason;
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          const pos = (ps: { symbol: string; qty: number }[]): string => ps.map((p) => `${p.symbol} ${p.qty}`).join(', ') || 'none';
          process.stdout.write(
            `stopped (${summary.stopReason}) after ${summary.bars} bars: ${summary.decisions} decisions, ${summary.orders} orders, ${summary.fills} fills this run; ` +
              `equity ${summary.equity} (start ${summary.startEquity}); positions ${pos(summary.positions)}\n`,
          );
          if (summary.strategies.length > 1) {
            for (const st of summary.strategies) {
              process.stdout.write(`  ${st.strategyId}: ${st.bars} bars, ${st.decisions} decisions, ${st.orders} orders, ${st.fills} fills; equity ${st.equity} (start ${st.startEquity}); positions ${pos(st.positions)}\n`);
            }
          }
          if (summary.foreign.length) process.stdout.write(`  foreign positions at the broker (not adopted): ${summary.foreign.map((f) => `${f.symbol} ${f.qty}`).join(', ')}\n`);
        }
        if (summary.stopReason === 'kill-switch' || summary.stopReason === 'daily-loss') {
          throw new UserError(`the engine stopped on a risk limit (${summary.stopReason}); positions were ${summary.flatten === 'done' ? 'flattened' : 'NOT all flattened: check the account'}. See the journal's incidents.`, 'TANDEM_RISK_STOP');
        }
        if (summary.flatten === 'market-closed') {
          throw new UserError('--flatten-on-exit: the market is closed, so the positions were left open (see the log for which). Flatten them when the market opens (start again with --flatten-on-exit and stop it), or close them in Client Portal.', 'TANDEM_FLATTEN_INCOMPLETE');
        }
        if (summary.flatten === 'incomplete') {
          throw new UserError('--flatten-on-exit did not close every position (see the log for what is left). Check the account in Client Portal.', 'TANDEM_FLATTEN_INCOMPLETE');
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
