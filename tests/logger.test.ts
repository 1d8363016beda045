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

  it('on a terminal a bar record is one line in the exchange\'s time zone; piped it stays JSON with every field', () => {
    const bar = { kind: 'bar', strategy: 'etha_ethv', bar: '2026-03-03T15:30:00.000Z', ySymbol: 'ETHA', xSymbol: 'ETHV', y: 25.1, x: 24.87, z: 1.234, beta: 0.98765, p: 0.031, pos: 'FLAT', equity: 100012.4 };
    // A destination that says it is a terminal: the logger's own detection picks the terminal format.
    const tty = capture();
    Object.assign(tty.stream, { isTTY: true });
    const log = createLogger({ level: 'info', destination: tty.stream });
    log.info(bar, 'bar');
    log.info({ strategy: 'etha_ethv', bars: 24 }, 'warm-up done');
    // eslint-disable-next-line no-control-regex
    const lines = tty.text().replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    expect(lines[0]).toBe('10:30 etha_ethv ETHA/ETHV 25.10/24.87 z=+1.23 β=0.988 p=0.031 pos=flat eq=100,012.40');
    expect(lines[1]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3} E[SD]T\] INFO: warm-up done$/);
    expect(lines[2]).toMatch(/^\s+strategy: "etha_ethv"$/);
    // Summer time and a missing z: still one line.
    const summer = capture();
    createLogger({ level: 'info', pretty: true, destination: summer.stream }).info({ ...bar, bar: '2026-07-01T13:30:00.000Z', z: null, p: null }, 'bar');
    expect(summer.text()).toBe('09:30 etha_ethv ETHA/ETHV 25.10/24.87 z=n/a β=0.988 pos=flat eq=100,012.40\n');
    const piped = capture();
    createLogger({ level: 'info', destination: piped.stream }).info(bar, 'bar');
    expect(JSON.parse(piped.text())).toMatchObject({ ...bar, msg: 'bar', level: 30 });
  });
});
