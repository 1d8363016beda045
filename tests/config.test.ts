import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig, loadStrategyFile } from '../src/config/load.ts';
import { accountForMode } from '../src/config/env.ts';
import { ConfigError } from '../src/config/config-error.ts';
import type { CointegrationParams } from '../src/strategies/cointegration/params.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src/main.ts');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

const STRATEGY = `name: t
strategy:
  type: cointegration
  legs:
    y: { symbol: ETHA, secType: STK, exchange: SMART }
    x: { symbol: ETHV, secType: STK, exchange: SMART }
  bar: 5min
  lookback: 120
  entryZ: 2.0
  exitZ: 0.5
  stopZ: 4.0
  sizing: { capitalFraction: 0.5 }
`;

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'tandem-config-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(TSX, [MAIN, ...args], { cwd: dir, env: { ...process.env, IBKR_PAPER_ACCOUNT_ID: '', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('config files shipped with the project', () => {
  it.each([
    ['configs/strategies/cointegration_etha_ethv.yaml', 'strategy'],
    ['configs/strategies/cointegration_btc_eth.yaml', 'strategy'],
    ['configs/engine/Engine.yaml', 'engine'],
    ['configs/legacy/main_etha_ethv.yaml', 'main'],
  ])('%s loads as a %s config', (file, kind) => {
    const cfg = loadConfig(join(ROOT, file), { env: {} });
    expect(cfg.kind).toBe(kind);
    expect(cfg.mode).toBe('paper');
    // The shipped engine config runs both shipped strategies in one node.
    expect(cfg.strategies.length).toBe(kind === 'engine' ? 2 : 1);
    expect(cfg.engine.pacing.maxRequestsPerSecond).toBe(10);
  });

  it('gives the BTC/ETH strategy long-only crypto legs with crypto defaults', () => {
    const s = loadStrategyFile(join(ROOT, 'configs/strategies/cointegration_btc_eth.yaml')).strategy as unknown as CointegrationParams;
    expect(s.shortMode).toBe('long-only');
    expect(s.legs.y.exchange).toBe('PAXOS');
    expect(s.legs.y.qtyIncrement).toBe(0.0001);
    expect(s.legs.y.commission).toEqual({ model: 'percent', pct: 0.0018, minimum: 1.75 });
  });
});

describe('kind detection', () => {
  it('detects a strategy config by shape and loads it with the default engine config', () => {
    const f = write('s.yaml', STRATEGY);
    const cfg = loadConfig(f, { env: {}, cwd: ROOT });
    expect(cfg.kind).toBe('strategy');
    expect(cfg.engineFile).toBe(join(ROOT, 'configs/engine/Engine.yaml'));
  });

  it('uses built-in engine defaults when no Engine.yaml is found', () => {
    const f = write('s2.yaml', STRATEGY);
    const cfg = loadConfig(f, { env: {}, cwd: dir, defaultEngineConfig: null });
    expect(cfg.engineFile).toBeNull();
    expect(cfg.engine.gateway.url).toBe('https://localhost:5000');
  });

  it('detects an engine config and resolves its strategy files relative to it', () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    write('sub/strat.yaml', STRATEGY);
    const f = write('engine.yaml', 'pacing: { maxRequestsPerSecond: 20 }\nstrategies: [sub/strat.yaml]\n');
    const cfg = loadConfig(f, { env: {}, cwd: dir });
    expect(cfg.kind).toBe('engine');
    expect(cfg.engine.pacing.maxRequestsPerSecond).toBe(20);
    expect(cfg.strategies[0]!.name).toBe('t');
  });

  it('detects a legacy main config with engine keys at the top level', () => {
    const f = write('main-flat.yaml', `gateway: { url: "https://127.0.0.1:5001" }\n${STRATEGY}`);
    const cfg = loadConfig(f, { env: {} });
    expect(cfg.kind).toBe('main');
    expect(cfg.engine.gateway.url).toBe('https://127.0.0.1:5001');
  });

  it('lets an explicit kind win over the shape', () => {
    const f = write('kind.yaml', `kind: strategy\n${STRATEGY}`);
    expect(loadConfig(f, { env: {}, cwd: ROOT }).kind).toBe('strategy');
  });

  it('--mode overrides the config and the account follows the mode', () => {
    const cfg = loadConfig(join(ROOT, 'configs/engine/Engine.yaml'), {
      mode: 'live', env: { IBKR_PAPER_ACCOUNT_ID: 'DU1234567', IBKR_LIVE_ACCOUNT_ID: 'U7654321' },
    });
    expect(cfg.mode).toBe('live');
    expect(accountForMode(cfg.mode, cfg.credentials)).toBe('U7654321');
    expect(accountForMode('paper', cfg.credentials)).toBe('DU1234567');
  });

  it('the process environment wins over .env', () => {
    write('.env', 'IBKR_PAPER_ACCOUNT_ID=DU1111111\nIBKR_LIVE_ACCOUNT_ID=U2222222\n');
    const cfg = loadConfig(join(ROOT, 'configs/engine/Engine.yaml'), { cwd: dir });
    // process.env has no IBKR_LIVE_ACCOUNT_ID in the test run unless set; .env supplies it.
    expect(cfg.credentials.liveAccountId).toBe(process.env.IBKR_LIVE_ACCOUNT_ID || 'U2222222');
    process.env.IBKR_PAPER_ACCOUNT_ID = 'DU9999999';
    try {
      expect(loadConfig(join(ROOT, 'configs/engine/Engine.yaml'), { cwd: dir }).credentials.paperAccountId).toBe('DU9999999');
    } finally {
      delete process.env.IBKR_PAPER_ACCOUNT_ID;
    }
  });

  it('refuses a live account in paper mode and a paper account in live mode', () => {
    expect(() => accountForMode('paper', { paperAccountId: 'U1234567' })).toThrow(/not a paper account/);
    expect(() => accountForMode('live', { liveAccountId: 'DU1234567' })).toThrow(/is a paper account/);
    expect(() => accountForMode('live', {})).toThrow(/IBKR_LIVE_ACCOUNT_ID is not set/);
  });
});

// Each malformed config must give a one-paragraph error with file:line:col and exit non-zero
// without a stack trace.
const malformed: Array<{ name: string; file: string; text: string; args?: string[]; where: RegExp; says: RegExp }> = [
  { name: 'bad YAML', file: 'bad-yaml.yaml', text: 'strategy:\n  type: cointegration\n   legs: [\n', where: /bad-yaml\.yaml:\d+:\d+/, says: /not valid YAML/ },
  { name: 'wrong type', file: 'wrong-type.yaml', text: STRATEGY.replace('entryZ: 2.0', 'entryZ: two'), where: /wrong-type\.yaml:9:11: strategy\.entryZ:/, says: /expected a number, found the text "two"/ },
  { name: 'unknown key', file: 'unknown-key.yaml', text: STRATEGY.replace('exitZ: 0.5', 'exitZZ: 0.5\n  exitZ: 0.5'), where: /unknown-key\.yaml:10:3: strategy\.exitZZ:/, says: /unknown key "exitZZ".*did you mean "exitZ"/ },
  { name: 'missing required key', file: 'missing-key.yaml', text: STRATEGY.replace('  lookback: 120\n', ''), where: /missing-key\.yaml:3:3: strategy\.lookback:/, says: /required key "lookback" is missing/ },
  { name: 'negative cash', file: 'negative-cash.yaml', text: 'paper:\n  startingCash: -5000\nstrategies: [x.yaml]\n', where: /negative-cash\.yaml:2:17: paper\.startingCash:/, says: /out of range/ },
  { name: 'pacing 45', file: 'pacing.yaml', text: 'pacing:\n  maxRequestsPerSecond: 45\nstrategies: [x.yaml]\n', where: /pacing\.yaml:2:25: pacing\.maxRequestsPerSecond:/, says: /at most 40/ },
  { name: 'unknown mode', file: 'mode.yaml', text: 'mode: demo\nstrategies: [x.yaml]\n', where: /mode\.yaml:1:7: mode:/, says: /use one of: paper, live/ },
  { name: 'missing env var', file: 'env.yaml', text: 'gateway:\n  url: ${TANDEM_TEST_GATEWAY_URL}\nstrategies: [x.yaml]\n', where: /env\.yaml:2:8: gateway\.url:/, says: /TANDEM_TEST_GATEWAY_URL is not set/ },
  { name: 'ambiguous kind', file: 'ambiguous.yaml', text: `strategies: [a.yaml]\n${STRATEGY}`, where: /ambiguous\.yaml:1:\d+/, says: /ambiguous/ },
  { name: 'unknown kind', file: 'unknown.yaml', text: 'foo: 1\n', where: /unknown\.yaml:1:1/, says: /cannot tell what kind of config/ },
  { name: 'missing strategy file', file: 'nostrat.yaml', text: 'strategies: [does-not-exist.yaml]\n', where: /nostrat\.yaml:1:14: strategies\[0\]:/, says: /does not exist/ },
];

describe('malformed configs', () => {
  it.each(malformed)('$name: one paragraph naming file:line:col, exit non-zero, no stack', async ({ file, text, where, says, args }) => {
    write(file, text);
    const r = await cli(['config', 'show', '--config', file, ...(args ?? [])]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(where);
    expect(r.stderr).toMatch(says);
    expect(r.stderr).toMatch(/Fix: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBe(1);
    expect(r.stdout).toBe('');
  });

  it('an unknown --mode on the command line is refused', async () => {
    const r = await cli(['config', 'show', '--config', join(ROOT, 'configs/engine/Engine.yaml'), '--mode', 'demo']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are paper, live/);
  });

  it('throws ConfigError objects carrying every problem', () => {
    const f = write('two-problems.yaml', STRATEGY.replace('entryZ: 2.0', 'entryZ: -1').replace('bar: 5min', 'bar: weekly'));
    try {
      loadConfig(f, { env: {}, cwd: ROOT });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems.map((p) => p.keyPath).sort()).toEqual(['strategy.bar', 'strategy.entryZ']);
    }
  });
});

describe('config show', () => {
  it.each(['configs/strategies/cointegration_etha_ethv.yaml', 'configs/engine/Engine.yaml', 'configs/legacy/main_etha_ethv.yaml'])(
    'prints %s resolved, with secrets masked', async (file) => {
      const r = await cli(['config', 'show', '--config', join(ROOT, file)], {
        IBKR_USERNAME: 'trader-joe', IBKR_PASSWORD: 'pa55-w0rd!', IBKR_PAPER_ACCOUNT_ID: 'DU7654321',
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('maxRequestsPerSecond: 10');
      expect(r.stdout).toContain('account: DU*****21');
      expect(r.stdout).not.toContain('trader-joe');
      expect(r.stdout).not.toContain('pa55-w0rd!');
      expect(r.stdout).not.toContain('DU7654321');
    },
  );
});
