/**
 * `tandem run` guards, through the real command: live mode needs live.enabled and a confirmation,
 * paper mode refuses a live account id. Nothing is sent: these refusals happen before any connection.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../src/cli/engine-setup.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }, (err, _out, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

function configs(liveEnabled: boolean): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-cli-'));
  writeFileSync(join(dir, 's.yaml'), pairStrategyYaml({ entryZ: 2, exitZ: 0.5, stopZ: 4 }));
  writeFileSync(join(dir, 'e.yaml'), `kind: engine
gateway: { url: "https://127.0.0.1:9" }
dataDir: ${join(dir, 'data')}
live: { enabled: ${liveEnabled} }
strategies: [s.yaml]
`);
  return { dir, file: join(dir, 'e.yaml') };
}

describe('engine cli guards', () => {
  it('engine live guard: refuses live mode without live.enabled, and without a confirmation when not interactive', async () => {
    const a = configs(false);
    const r1 = await run(['run', '--config', a.file, '--mode', 'live'], { IBKR_LIVE_ACCOUNT_ID: 'U1234567' });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/live\.enabled: true/);
    const b = configs(true);
    const r2 = await run(['run', '--config', b.file, '--mode', 'live'], { IBKR_LIVE_ACCOUNT_ID: 'U1234567' });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--yes/);
    // `tandem --config FILE` means run: the same guard answers.
    const r3 = await run(['--config', a.file, '--mode', 'live'], { IBKR_LIVE_ACCOUNT_ID: 'U1234567' });
    expect(r3.stderr).toMatch(/live\.enabled: true/);
    rmSync(a.dir, { recursive: true, force: true });
    rmSync(b.dir, { recursive: true, force: true });
  }, 180_000); // two or three CLI start-ups (tsx): tens of seconds each on a loaded machine

  it('engine wrong accounts: paper mode refuses a live account id and live mode a paper one', async () => {
    const a = configs(true);
    const r1 = await run(['run', '--config', a.file], { IBKR_PAPER_ACCOUNT_ID: 'U1234567' });
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/not a paper account/);
    const r2 = await run(['run', '--config', a.file, '--mode', 'live', '--yes'], { IBKR_LIVE_ACCOUNT_ID: 'DU1234567' });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/paper account/);
    rmSync(a.dir, { recursive: true, force: true });
  }, 180_000); // two or three CLI start-ups (tsx): tens of seconds each on a loaded machine

  it('engine durations for --exit-after', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1500')).toBe(1_500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});
