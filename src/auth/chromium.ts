/**
 * Finding and launching the system's Chromium for playwright-core (which ships no browser).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { LoginError } from './login-error.ts';

export const DEFAULT_BROWSER_PATH = '/usr/bin/chromium';

/** Flags for a headless Chromium on a server: no sandbox (containers), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export interface BrowserCheck {
  ok: boolean;
  path: string;
  /** Why it is unusable, with what to do. */
  problem?: string;
}

export function checkBrowser(path: string = DEFAULT_BROWSER_PATH): BrowserCheck {
  if (!existsSync(path)) {
    return { ok: false, path, problem: `no browser at ${path}: install Chromium (Debian/Ubuntu: apt install chromium) or set auth.browserPath to its path` };
  }
  if (!statSync(path).isFile()) return { ok: false, path, problem: `${path} is not a file: set auth.browserPath to the Chromium executable` };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { ok: false, path, problem: `${path} is not executable: fix its permissions or set auth.browserPath` };
  }
  return { ok: true, path };
}

export async function launchChromium(path: string): Promise<Browser> {
  const check = checkBrowser(path);
  if (!check.ok) throw new LoginError(`cannot start the browser for auto-login: ${check.problem}.`, 'browser');
  try {
    return await chromium.launch({ executablePath: path, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new LoginError(`cannot start Chromium at ${path} (${first}): check that it runs (${path} --version) or set auth.browserPath.`, 'browser');
  }
}
