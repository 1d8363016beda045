/**
 * `tandem run` on a real pseudo-terminal (util-linux `script`), against the simulator: the engine's
 * log detects the terminal by itself and prints each bar as ONE line, the bar's time in New York,
 * and its other lines with New York time stamps; no bar field is printed on a line of its own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { tandemArgv } from './helpers/tandem-cli.ts';

const hasScript = spawnSync('script', ['--version']).status === 0;

let h: Harness | undefined;
let proc: ChildProcess | undefined;
afterEach(async () => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  await h?.close();
  h = undefined;
  proc = undefined;
});

const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

describe.skipIf(!hasScript)('log on a terminal', () => {
  it('tandem run on a pseudo-terminal prints one line per bar, in New York time', async () => {
    h = await startHarness();
    writeFileSync(join(h.dir, 's.yaml'), pairStrategyYaml({ name: 'etha_ethv' }));
    writeFileSync(join(h.dir, 'e.yaml'), `kind: engine
gateway: { url: "${h.sim.url}" }
dataDir: ${join(h.dir, 'data')}
strategies: [s.yaml]
`);
    const cmd = [process.execPath, ...tandemArgv(['run', '--config', join(h.dir, 'e.yaml'), '--max-bars', '4'])].map(quote).join(' ');
    // script gives the command a pseudo-terminal for stdin, stdout and stderr, and copies it to its stdout.
    const env: NodeJS.ProcessEnv = { ...process.env, IBKR_PAPER_ACCOUNT_ID: h.sim.accounts.paper, NO_COLOR: '1' };
    delete env.FORCE_COLOR; // plain text, so the lines can be compared as they are
    proc = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc!.on('exit', (code) => r(code)));
    await waitFor(() => /engine running/.test(out) || proc!.exitCode !== null, 150_000, 'the engine to start');
    h.go(300);
    expect(await exited).toBe(0);
    const lines = out.replace(/\r/g, '').split('\n');
    const bars = lines.filter((l) => / etha_ethv ETHA\/ETHV /.test(l));
    expect(bars.length).toBe(4);
    for (const l of bars) expect(l).toMatch(/^\d\d:\d\d etha_ethv ETHA\/ETHV \d+\.\d\d\/\d+\.\d\d z=([+-]\d+\.\d\d|n\/a) β=(-?\d+\.\d{3}|n\/a)( p=\d+\.\d{3})? pos=(flat|long|short) eq=[\d,]+\.\d\d$/);
    // Bars of a Tuesday morning session, in New York time.
    expect(bars.every((l) => /^(09|1\d):\d\d /.test(l))).toBe(true);
    expect(lines.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3} E[SD]T\] INFO: engine running$/.test(l))).toBe(true);
    // (fields only a bar record has)
    expect(lines.some((l) => /^\s+(ySymbol|xSymbol|beta|pos): /.test(l))).toBe(false);
    if (process.env.TANDEM_TEST_SHOW) process.stdout.write(out);
  }, 240_000);
});
