/**
 * Automatic login: when the gateway has no usable session, open the brokerage session if the SSO
 * session is still there, otherwise log in through the login page (browser-login.ts), then confirm
 * with the auth status and open the brokerage session. Retries with backoff; stops before IBKR's
 * lockout (failed logins are counted across runs); one login at a time however many callers ask.
 *
 * The session layer (or the engine) calls `reauthenticate(reason)` through the `Reauthenticator`
 * interface when it finds the session unauthenticated; `watch()` does the same on a timer for
 * processes that have no session layer of their own.
 */
import { join } from 'node:path';
import { registerSecret, silentLogger, type Logger } from '../log/logger.ts';
import { nextBackoff, type BackoffOptions } from '../gateway/supervisor.ts';
import { UserError } from '../util/errors.ts';
import { loginWithBrowser, type BrowserLoginOptions, type LoginMode, type SecondFactorUsed } from './browser-login.ts';
import { readFailedLogins, recordFailedLogin, resetFailedLogins } from './failed-logins.ts';
import { createGatewayAuthApi, isUsable, type AuthStatus, type GatewayAuthApi } from './gateway-auth-api.ts';
import { LoginError } from './login-error.ts';

/** What the session layer calls when it finds the session unauthenticated. */
export interface Reauthenticator {
  /** Resolves once the brokerage session is usable again; throws (LoginError/UserError) when it cannot be. */
  reauthenticate(reason: string): Promise<LoginReport>;
}

export interface LoginCredentials {
  username?: string;
  password?: string;
  totpSecret?: string;
}

export interface AutoLoginOptions {
  /** Gateway URL, e.g. https://localhost:5000. */
  baseUrl: string;
  credentials: LoginCredentials;
  mode: LoginMode;
  browserPath: string;
  /** Failure screenshots go to `<dataDir>/auth/screenshots`, the failure count to `<dataDir>/auth`. */
  dataDir: string;
  pushTimeoutMs?: number;
  /** Refused logins (counted across runs) after which auto-login stops. Default 5, as ibeam. */
  maxFailedLogins?: number;
  /** Browser attempts per reauthentication. Default 3. */
  attemptsPerLogin?: number;
  /** Pause between attempts. Default 10 s doubling to 5 min. */
  backoff?: Partial<BackoffOptions>;
  /** How long to wait for the auth status to say authenticated after a login. Default 30 s. */
  confirmTimeoutMs?: number;
  /** ssodh/init with compete:true takes the brokerage session from TWS/mobile. Default true. */
  compete?: boolean;
  /** Session calls; default a small client over HTTPS. */
  api?: GatewayAuthApi;
  logger?: Logger;
  /** Passed through to the browser driver (timeouts, test hooks). */
  browser?: Pick<BrowserLoginOptions, 'stepTimeoutMs' | 'presubmitDelayMs' | 'loginPath' | 'inspectBeforeScreenshot' | 'now'>;
}

export interface LoginReport {
  /** none: the session was fine; brokerage: only ssodh/init was needed; login: the browser logged in. */
  action: 'none' | 'brokerage' | 'login';
  secondFactor?: SecondFactorUsed;
  attempts: number;
  durationMs: number;
}

export class AutoLogin implements Reauthenticator {
  private readonly api: GatewayAuthApi;
  private readonly log: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly backoff: BackoffOptions;
  private inFlight: Promise<LoginReport> | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly opts: AutoLoginOptions) {
    this.api = opts.api ?? createGatewayAuthApi(opts.baseUrl);
    this.log = opts.logger ?? silentLogger;
    // Sleeps end early when auto-login is stopped, so a shutdown never waits out a backoff.
    this.sleep = (ms) => new Promise<void>((res) => {
      const signal = this.abort.signal;
      if (signal.aborted) return res();
      const onAbort = (): void => {
        clearTimeout(timer);
        res();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        res();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    this.backoff = { initialMs: 10_000, maxMs: 300_000, factor: 2, ...opts.backoff };
    // Whatever logger ends up printing an error or a page message, these values are masked there.
    registerSecret(opts.credentials.username);
    registerSecret(opts.credentials.password);
    registerSecret(opts.credentials.totpSecret);
  }

  get screenshotDir(): string {
    return join(this.opts.dataDir, 'auth', 'screenshots');
  }

  /** Checks the session and logs in only if needed. Concurrent calls share one login. */
  reauthenticate(reason: string): Promise<LoginReport> {
    if (!this.inFlight) {
      this.inFlight = this.run(reason).finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  /** Same as reauthenticate: for callers that just want a usable session. */
  ensureAuthenticated(): Promise<LoginReport> {
    return this.reauthenticate('session check');
  }

  /**
   * Checks the session every `intervalMs` and logs in again when it is gone. Stops by itself when a
   * login can not succeed without the user (missing credentials, lockout guard, wrong mode).
   * Returns a function that stops watching.
   */
  watch(intervalMs = 60_000): () => void {
    const tick = async (): Promise<void> => {
      // A login still running (a push waiting for approval, a backoff) is not joined again.
      if (this.inFlight || this.abort.signal.aborted) return;
      try {
        await this.reauthenticate('periodic session check');
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const permanent = err instanceof LoginError ? err.permanent : err instanceof UserError;
        this.log[permanent ? 'error' : 'warn']({ err: (err as Error).message }, permanent ? 'auto-login stopped: it can not succeed without you' : 'auto-login failed; will try again');
        if (permanent) {
          clearInterval(this.watchTimer);
          this.watchTimer = undefined;
        }
      }
    };
    clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => void tick(), intervalMs);
    return () => {
      clearInterval(this.watchTimer);
      this.watchTimer = undefined;
    };
  }

  /** Stops watching and ends any login in progress (closes its browser). For shutdown. */
  stop(): void {
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.abort.abort();
  }

  private checkStopped(): void {
    if (this.abort.signal.aborted) throw new LoginError('auto-login stopped', 'stopped');
  }

  private requireCredentials(): { username: string; password: string } {
    const { username, password } = this.opts.credentials;
    const missing = [!username && 'IBKR_USERNAME', !password && 'IBKR_PASSWORD'].filter(Boolean);
    if (missing.length) {
      throw new LoginError(`auto-login needs ${missing.join(' and ')}: add ${missing.map((m) => `${m}=...`).join(' and ')} to .env (see .env.example), or set auth.autoLogin: false and log in at ${this.opts.baseUrl} yourself.`, 'setup');
    }
    return { username: username!, password: password! };
  }

  private async run(reason: string): Promise<LoginReport> {
    this.checkStopped();
    const started = Date.now();
    let status: AuthStatus;
    try {
      status = await this.api.authStatus();
    } catch (err) {
      if (err instanceof UserError) throw err;
      const detail = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message.split('\n')[0];
      throw new LoginError(`cannot check the session: the gateway at ${this.opts.baseUrl} does not answer (${detail}). Is it running? Start it with "tandem gateway start --dir <gateway folder>", or fix gateway.url.`, 'unreachable');
    }
    if (isUsable(status)) return { action: 'none', attempts: 0, durationMs: Date.now() - started };
    this.log.info({ reason, sso: status.sso, authenticated: status.authenticated, competing: status.competing }, 'gateway session is not usable');

    // The SSO session outlives the brokerage session (idle timeout, nightly reset): reopening the
    // brokerage session needs no password and no phone.
    if (status.sso) {
      this.log.info('logged in, but the brokerage session is closed: opening it (ssodh/init)');
      if (await this.confirm()) {
        this.log.info('brokerage session open');
        return { action: 'brokerage', attempts: 0, durationMs: Date.now() - started };
      }
      this.log.warn('the brokerage session did not open; logging in again');
    }

    const creds = this.requireCredentials();
    const max = this.opts.maxFailedLogins ?? 5;
    const attempts = Math.max(1, this.opts.attemptsPerLogin ?? 3);
    let delay: number | undefined;
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.checkStopped();
      const failed = readFailedLogins(this.opts.dataDir);
      if (failed.count >= max) {
        throw new LoginError(
          `auto-login stopped: ${failed.count} logins were refused in a row (last: "${failed.lastMessage ?? 'unknown'}"), and IBKR locks an account after a few more. ` +
            `Log in once by hand at ${this.opts.baseUrl} to check your credentials, then run "tandem login --reset-failures".`,
          'setup',
        );
      }
      this.log.info({ attempt, of: attempts }, 'logging in through the gateway login page');
      try {
        const result = await loginWithBrowser({
          ...this.opts.browser,
          baseUrl: this.opts.baseUrl,
          username: creds.username,
          password: creds.password,
          mode: this.opts.mode,
          ...(this.opts.credentials.totpSecret ? { totpSecret: this.opts.credentials.totpSecret } : {}),
          browserPath: this.opts.browserPath,
          pushTimeoutMs: this.opts.pushTimeoutMs ?? 120_000,
          screenshotDir: this.screenshotDir,
          logger: this.log,
          signal: this.abort.signal,
        });
        if (await this.confirm()) {
          resetFailedLogins(this.opts.dataDir);
          await this.checkMode();
          this.log.info({ secondFactor: result.secondFactor, attempt }, 'logged in; brokerage session open');
          return { action: 'login', secondFactor: result.secondFactor, attempts: attempt, durationMs: Date.now() - started };
        }
        this.checkStopped();
        lastError = new LoginError(`the login page said "Client login succeeds" but the gateway's auth status did not become authenticated within ${(this.opts.confirmTimeoutMs ?? 30_000) / 1000} s (or the login was lost again).`, 'page');
      } catch (err) {
        if (!(err instanceof LoginError)) throw err;
        lastError = err;
        if (err.countsTowardLockout) {
          const n = recordFailedLogin(this.opts.dataDir, err.pageMessage ?? err.message);
          this.log.warn({ failedLogins: n.count, limit: max }, 'the login was refused');
        }
        if (err.permanent || err.kind === 'push-timeout' || readFailedLogins(this.opts.dataDir).count >= max) throw err;
      }
      this.log.warn({ err: lastError.message, attempt }, 'login attempt failed');
      if (attempt < attempts) {
        delay = nextBackoff(delay, this.backoff);
        this.log.info({ delayMs: delay }, 'waiting before the next login attempt');
        await this.sleep(delay);
      }
    }
    throw lastError ?? new LoginError('auto-login failed', 'page');
  }

  /**
   * Polls the auth status until the brokerage session is usable, calling ssodh/init when logged in
   * but not authenticated.
   */
  private async confirm(): Promise<boolean> {
    const compete = this.opts.compete ?? true;
    const started = Date.now();
    const until = started + (this.opts.confirmTimeoutMs ?? 30_000);
    let initCalls = 0;
    let firstUnauthAt: number | undefined;
    let justInitialised = false;
    for (;;) {
      let status: AuthStatus | undefined;
      try {
        status = await this.api.authStatus();
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'auth status failed while confirming the login');
      }
      if (status && isUsable(status)) return true;
      if (this.abort.signal.aborted) return false;
      // Right after a login the SSO session exists; if it stays gone the login was lost (the
      // gateway restarted, the session was taken): waiting longer cannot help.
      if (status && !status.sso && Date.now() - started > 5_000) return false;
      if (status?.sso) {
        firstUnauthAt ??= Date.now();
        // The gateway opens the brokerage session itself a few seconds after login (authDelay);
        // asking at once is harmless and saves that wait. Ask again every 10 s if it does not open.
        const due = initCalls === 0 || Date.now() - firstUnauthAt >= 10_000 * initCalls;
        if (due && initCalls < 3) {
          initCalls++;
          justInitialised = true;
          try {
            await this.api.initBrokerageSession(compete);
          } catch (err) {
            this.log.debug({ err: (err as Error).message }, 'ssodh/init failed');
          }
        }
      }
      if (Date.now() >= until) return false;
      // Look once at once after ssodh/init (it usually opens the session right away), then every 0.5 s.
      if (!justInitialised) await this.sleep(500);
      justInitialised = false;
    }
  }

  /** Refuses a session for the other kind of account than the mode (a paper run on a live login). */
  private async checkMode(): Promise<void> {
    const type = await this.api.loginType?.();
    if (type && type !== this.opts.mode) {
      throw new LoginError(`the gateway is logged in to a ${type} account but Tandem runs in ${this.opts.mode} mode: use the ${this.opts.mode} username in IBKR_USERNAME, or run with --mode ${type}.`, 'setup');
    }
  }
}

export type { AuthStatus, GatewayAuthApi };
