import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, registerSecret } from '../src/log/logger.ts';
import { credentialsFrom, loadEnv } from '../src/config/env.ts';

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } });
  return { stream, text: () => chunks.join('') };
}

describe('logger', () => {
  it('never prints a registered secret, by key or by value', () => {
    const password = 'hunter2-Very$ecret';
    registerSecret(password);
    const out = capture();
    const log = createLogger({ level: 'debug', pretty: false, destination: out.stream });
    log.info({ password, nested: { cookie: 'x=1', authorization: 'Bearer abc' } }, 'login');
    log.error(`login failed for password ${password}`);
    log.debug({ url: `https://h/?p=${encodeURIComponent('x')}&pw=${password}` }, 'request');
    const text = out.text();
    expect(text).toContain('login failed');
    expect(text).not.toContain(password);
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('x=1');
  });

  it('never prints a password that came from the environment', () => {
    const password = 'Env-Pa55word#2026';
    // The same path every command takes: .env + process environment, then the credentials.
    const creds = credentialsFrom(loadEnv('/nonexistent/.env', { IBKR_PASSWORD: password, IBKR_USERNAME: 'env-user-77' }));
    expect(creds.password).toBe(password);
    const out = capture();
    const log = createLogger({ level: 'debug', pretty: false, destination: out.stream });
    log.debug({ creds }, 'loaded credentials');
    log.warn(`gateway refused login for env-user-77 with ${password}`);
    log.error(new Error(`login failed: ${password}`));
    const text = out.text();
    expect(text).toContain('gateway refused login');
    expect(text).not.toContain(password);
    expect(text).not.toContain('env-user-77');
  });

  it('honours the level, in any case', () => {
    const out = capture();
    const log = createLogger({ level: 'WARN', pretty: false, destination: out.stream });
    log.info('hidden');
    log.warn('shown');
    expect(out.text()).not.toContain('hidden');
    expect(out.text()).toContain('shown');
  });
});
