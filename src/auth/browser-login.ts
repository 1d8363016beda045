/**
 * One login through the gateway's login page in headless Chromium: fill username and password,
 * choose paper or live, submit, answer the second factor (TOTP code, or wait for a push approval),
 * and return once the page says "Client login succeeds". Retrying, lockout protection and the
 * brokerage session are the caller's job (auto-login.ts).
 *
 * Secrets: the username, password, TOTP secret and codes are typed into the page and nowhere else:
 * never logged, never in an error. On failure a screenshot is taken only after every input is
 * blanked and the page checked to hold none of them.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { silentLogger, type Logger } from '../log/logger.ts';
import { assertSecureGatewayUrl, isLoopbackUrl } from '../util/loopback.ts';
import { launchChromium } from './chromium.ts';
import { LoginError, type LoginFailureKind } from './login-error.ts';
import { LIVE_MODE_WITH_PAPER_USER, LOGIN_PATH, SELECTORS, SUCCESS_TEXT } from './login-page.ts';
import { msUntilNextStep, totp } from './totp.ts';
import { BLANK_PAGE_SCRIPT, READ_STATE_SCRIPT, call } from './page-scripts.ts';
import { ensurePrivateDir, tightenFile } from '../util/private-files.ts';

export type LoginMode = 'paper' | 'live';
export type SecondFactorUsed = 'none' | 'totp' | 'push';

export interface BrowserLoginOptions {
  /** Gateway URL, e.g. https://localhost:5000. */
  baseUrl: string;
  /** Login page path; default ibeam's `/sso/Login?forwardTo=22&RL=1&ip2loc=on`. */
  loginPath?: string;
  username: string;
  password: string;
  mode: LoginMode;
  /** Base32 secret of the authenticator-app enrolment; without it a push approval is awaited. */
  totpSecret?: string;
  browserPath: string;
  /** How long to wait for the user to approve the push notification. Default 120 s. */
  pushTimeoutMs?: number;
  /** How long to wait for the page to react to one step. Default 30 s. */
  stepTimeoutMs?: number;
  /** Pause between typing and submitting (the real page validates fields as they change). Default 1 s. */
  presubmitDelayMs?: number;
  /** Folder for failure screenshots (created when needed); none are taken without it. */
  screenshotDir?: string;
  logger?: Logger;
  /**
   * Called with everything the page holds (HTML, input values, visible text) right before a
   * screenshot is taken. For tests that prove no secret is on screen.
   */
  inspectBeforeScreenshot?: (pageState: string) => void;
  /** Clock for TOTP codes (tests). */
  now?: () => number;
  /** Aborting closes the browser at once (the process is shutting down). */
  signal?: AbortSignal;
}

export interface BrowserLoginResult {
  secondFactor: SecondFactorUsed;
  mode: LoginMode;
  durationMs: number;
}

interface PageState {
  success: boolean;
  error: string | null;
  twoFactor: boolean;
  twoFactorSelect: boolean;
  push: boolean;
  promo: boolean;
  loginForm: boolean;
}

type StateName = 'success' | 'error' | 'twoFactor' | 'twoFactorSelect' | 'push' | 'promo';

const ORDER: StateName[] = ['error', 'success', 'promo', 'twoFactorSelect', 'twoFactor', 'push'];

/** Reads the whole page state in one round trip; only visible elements count. */
async function readState(page: Page): Promise<PageState | undefined> {
  try {
    return (await page.evaluate(call(READ_STATE_SCRIPT, { sel: SELECTORS, successText: SUCCESS_TEXT }))) as PageState;
  } catch {
    // The page is navigating (execution context destroyed): ask again on the next poll.
    return undefined;
  }
}

/** Polls until one of the wanted states shows, or the timeout passes (returns undefined). */
async function waitForState(page: Page, wanted: StateName[], timeoutMs: number): Promise<{ name: StateName; state: PageState } | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await readState(page);
    if (state) {
      for (const name of ORDER) {
        if (!wanted.includes(name)) continue;
        if (name === 'error' ? state.error !== null : state[name]) return { name, state };
      }
    }
    if (Date.now() >= until) return undefined;
    await page.waitForTimeout(200);
  }
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('[redacted]');
  return out;
}

export async function loginWithBrowser(opts: BrowserLoginOptions): Promise<BrowserLoginResult> {
  const log = opts.logger ?? silentLogger;
  const started = Date.now();
  const stepTimeout = opts.stepTimeoutMs ?? 30_000;
  const pushTimeout = opts.pushTimeoutMs ?? 120_000;
  const now = opts.now ?? Date.now;
  const secrets = [opts.username, opts.password, opts.totpSecret ?? ''];
  const url = new URL(opts.loginPath ?? LOGIN_PATH, opts.baseUrl).toString();

  if (opts.signal?.aborted) throw new LoginError('auto-login stopped', 'stopped');
  assertSecureGatewayUrl(url); // the password is typed into this page
  const browser: Browser = await launchChromium(opts.browserPath);
  const onAbort = (): void => void browser.close().catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  // The gateway's certificate is self-signed; accept that only on loopback.
  const context = await browser.newContext({ ignoreHTTPSErrors: isLoopbackUrl(url), viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  let secondFactor: SecondFactorUsed = 'none';

  const fail = async (kind: LoginFailureKind, message: string, pageMessage?: string): Promise<never> => {
    const shot = opts.screenshotDir ? await saveBlankedScreenshot(page, { dir: opts.screenshotDir, secrets, log, ...(opts.inspectBeforeScreenshot ? { inspect: opts.inspectBeforeScreenshot } : {}) }) : undefined;
    const clean = pageMessage === undefined ? undefined : redact(pageMessage, secrets);
    const text = redact(message, secrets) + (shot ? ` A screenshot (fields blanked) is in ${shot}.` : '');
    throw new LoginError(text, kind, clean, shot);
  };

  try {
    log.info({ url, mode: opts.mode }, 'opening the gateway login page');
    try {
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: stepTimeout });
    } catch (err) {
      throw new LoginError(`could not open the gateway login page ${url} (${(err as Error).message.split('\n')[0]}): is the gateway running? Start it with "tandem gateway start --dir <gateway folder>".`, 'page');
    }
    const user = page.locator(SELECTORS.username).first();
    try {
      await user.waitFor({ state: 'visible', timeout: stepTimeout });
    } catch {
      const state = await readState(page);
      if (state?.success) {
        log.info('the gateway says the client is already logged in');
        return { secondFactor: 'none', mode: opts.mode, durationMs: Date.now() - started };
      }
      return await fail('page', `the gateway page at ${url} shows no login form (no input named "username" or "user_name") within ${stepTimeout} ms.`);
    }

    const toggle = page.locator(SELECTORS.paperToggleLabel).first();
    const toggleInput = page.locator(SELECTORS.paperToggleInput).first();
    const hasToggle = (await toggle.count()) > 0;
    // The page opens in live mode and the switch's checkbox is checked for paper (ibeam clicks the
    // label once for paper). When the checkbox can be read its state decides; otherwise we count clicks.
    let clickedPaper = false;
    const pageIsPaper = async (): Promise<boolean> => {
      if ((await toggleInput.count()) > 0 && (await toggleInput.getAttribute('type')) === 'checkbox') return await toggleInput.isChecked();
      return clickedPaper;
    };
    const switchToggle = async (): Promise<void> => {
      await toggle.click({ timeout: stepTimeout });
      clickedPaper = !clickedPaper;
    };
    const setPageMode = async (): Promise<void> => {
      if (!hasToggle) return;
      if ((await pageIsPaper()) !== (opts.mode === 'paper')) {
        log.info({ mode: opts.mode }, 'setting the login page to the run mode');
        await switchToggle();
      }
    };
    if (!hasToggle && opts.mode === 'paper') log.info('the login page has no live/paper switch: the paper username decides the account');
    await setPageMode();

    const submit = async (): Promise<void> => {
      const user = page.locator(SELECTORS.username).first();
      await user.fill(opts.username, { timeout: stepTimeout });
      await page.locator(SELECTORS.password).first().fill(opts.password, { timeout: stepTimeout });
      await page.waitForTimeout(opts.presubmitDelayMs ?? 1_000);
      log.info('submitting the login form');
      const button = page.locator(SELECTORS.submit).first();
      if ((await button.count()) > 0) await button.click({ timeout: stepTimeout });
      else await page.locator(SELECTORS.password).first().press('Enter');
    };

    await submit();
    let next = await waitForState(page, ['success', 'error', 'twoFactor', 'twoFactorSelect', 'push', 'promo'], stepTimeout);

    if (next?.name === 'error' && next.state.error?.includes(LIVE_MODE_WITH_PAPER_USER)) {
      if (opts.mode === 'live') {
        return await fail('setup', `the login page says this user is a paper trading user, but Tandem runs in live mode: use your live username in IBKR_USERNAME, or run with --mode paper. The page said: "${next.state.error}"`, next.state.error);
      }
      if (!hasToggle) return await fail('page', `the login page asks for paper mode but has no live/paper switch. The page said: "${next.state.error}"`, next.state.error);
      log.info('the page was still in live mode; switching to paper and submitting again');
      await switchToggle();
      await submit();
      next = await waitForState(page, ['success', 'error', 'twoFactor', 'twoFactorSelect', 'push', 'promo'], stepTimeout);
    }

    if (next?.name === 'twoFactorSelect') {
      // Some users choose the method first; pick the authenticator app when a TOTP secret is set.
      const select = page.locator(SELECTORS.twoFactorSelect).first();
      const options = await select.locator('option').allTextContents();
      const wantedOption = options.find((o) => (opts.totpSecret ? /authenticat|mobile/i : /ib ?key|notification|push/i).test(o));
      if (wantedOption) {
        log.info({ method: wantedOption.trim() }, 'choosing the second-factor method');
        await select.selectOption({ label: wantedOption });
      }
      next = await waitForState(page, ['success', 'error', 'twoFactor', 'push', 'promo'], stepTimeout);
    }

    if (next?.name === 'twoFactor') {
      secondFactor = 'totp';
      if (!opts.totpSecret) {
        return await fail('code-needed', 'the gateway asks for a second-factor code, but IBKR_TOTP_SECRET is not set: add the base32 secret of your authenticator-app enrolment to .env, or switch your second factor to IBKR Mobile push notifications.');
      }
      // A code about to expire may be refused by the time it arrives; wait for a fresh one.
      const left = msUntilNextStep(now());
      if (left < 3_000) await page.waitForTimeout(left + 200);
      const code = totp(opts.totpSecret, { now: now() });
      secrets.push(code);
      log.info('entering the authenticator code');
      const input = page.locator(SELECTORS.twoFactorInput).first();
      await input.fill(code, { timeout: stepTimeout });
      await input.press('Enter');
      next = await waitForState(page, ['success', 'error', 'promo'], stepTimeout);
      if (next?.name === 'error') {
        return await fail('code-rejected', `the login page refused the authenticator code: "${next.state.error}". Check IBKR_TOTP_SECRET and that this machine's clock is right (codes change every 30 s).`, next.state.error ?? undefined);
      }
    } else if (next?.name === 'push') {
      secondFactor = 'push';
      const seconds = Math.round(pushTimeout / 1000);
      log.warn({ waitSeconds: seconds }, `approve the login notification in IBKR Mobile now: waiting up to ${seconds} s`);
      next = await waitForState(page, ['success', 'error', 'promo'], pushTimeout);
      if (!next) {
        return await fail('push-timeout', `the login notification was not approved within ${seconds} s: approve it in IBKR Mobile when Tandem tries again (auth.pushTimeoutSeconds sets the wait), or set IBKR_TOTP_SECRET to log in without a phone.`);
      }
      if (next.name === 'error') {
        // The credentials were accepted already: a refusal here (denied, expired) is not a wrong password.
        return await fail('push-timeout', `the push-notification step ended with: "${next.state.error}". Approve the notification in IBKR Mobile when Tandem tries again, or set IBKR_TOTP_SECRET.`, next.state.error ?? undefined);
      }
    }

    if (next?.name === 'promo') {
      log.info('skipping the IB Key promotion');
      await page.locator(SELECTORS.ibKeyPromoSkip).first().click({ timeout: stepTimeout });
      next = await waitForState(page, ['success', 'error'], stepTimeout);
    }

    if (next?.name === 'error') {
      return await fail('rejected', `the login page refused the login: "${next.state.error}".`, next.state.error ?? undefined);
    }
    if (next?.name !== 'success') {
      return await fail('page', `the login page did not show "${SUCCESS_TEXT}" within ${stepTimeout} ms and showed no error.`);
    }
    const durationMs = Date.now() - started;
    log.info({ secondFactor, mode: opts.mode, durationMs }, 'the gateway login page says "Client login succeeds"');
    return { secondFactor, mode: opts.mode, durationMs };
  } catch (err) {
    if (opts.signal?.aborted) throw new LoginError('auto-login stopped', 'stopped');
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await browser.close().catch(() => undefined);
  }
}

export interface ScreenshotOptions {
  dir: string;
  /** Values that must not be visible: they are blanked from inputs, text and attributes. */
  secrets: string[];
  log?: Logger;
  /** Receives the page's HTML, text and input values as they are when the screenshot is taken. */
  inspect?: (pageState: string) => void;
}

/**
 * Blanks every input, removes any secret text from the page, checks nothing secret is left, then
 * saves a screenshot. Returns its path, or undefined when no screenshot was (or could safely be) taken.
 */
export async function saveBlankedScreenshot(page: Page, o: ScreenshotOptions): Promise<string | undefined> {
  const log = o.log ?? silentLogger;
  const live = o.secrets.filter((s) => s && s.length >= 3);
  try {
    const pageState = (await page.evaluate(call(BLANK_PAGE_SCRIPT, live))) as string;
    if (live.some((s) => pageState.includes(s))) {
      log.warn('a secret is still on the login page after blanking; no screenshot saved');
      return undefined;
    }
    o.inspect?.(pageState);
    ensurePrivateDir(o.dir, 'screenshot directory');
    const file = join(o.dir, `login-failure-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    tightenFile(file);
    return file;
  } catch (err) {
    log.warn({ err: (err as Error).message.split('\n')[0] }, 'could not save a screenshot of the failed login');
    return undefined;
  }
}
