import { describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { Command } from 'commander';
import { withDefaultCommand } from '../src/cli/index.ts';
import { useColor } from '../src/util/color.ts';
import { EXIT } from '../src/util/exit-codes.ts';
import { ROOT, tandemArgv } from './helpers/tandem-cli.ts';

function tandem(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, tandemArgv(args), { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('cli', () => {
  it('prints help and exits 0', () => {
    const out = execFileSync('npx', ['tsx', 'src/main.ts', '--help'], { encoding: 'utf8' });
    expect(out).toContain('Usage: tandem');
    expect(out).toContain('config');
  });

  it('treats `tandem --config FILE` as `tandem run --config FILE`', () => {
    const program = new Command('tandem');
    program.command('run');
    program.command('config');
    expect(withDefaultCommand(program, ['--config', 'x.yaml', '--mode', 'live'])).toEqual(['run', '--config', 'x.yaml', '--mode', 'live']);
    expect(withDefaultCommand(program, ['config', 'show', '--config', 'x.yaml'])).toEqual(['config', 'show', '--config', 'x.yaml']);
    expect(withDefaultCommand(program, ['--help'])).toEqual(['--help']);
  });

  it('prints the package version with --version and -V', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(tandem([flag])).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it('builds the command tree without loading any command\'s heavy modules', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { buildProgram } = await import(${JSON.stringify(join(ROOT, 'src/cli/index.ts'))});
      buildProgram();
      const heavy = Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules[\\\\/](playwright-core|undici|pino|ws|yaml|selfsigned)[\\\\/]/.test(k));
      // The journal's node:sqlite is built in (not in require's cache): Node lists the built-ins it loaded.
      if (process.moduleLoadList.includes('NativeModule sqlite')) heavy.push('node:sqlite');
      console.log(JSON.stringify(heavy));`;
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('gives one-line errors with the fix for a bad --port and an http:// gateway', () => {
    const sim = tandem(['sim', '--port', '99999']);
    expect(sim).toEqual({ code: EXIT.userError, out: '', err: 'error: --port 99999: not a TCP port. Fix: give a port from 1 to 65535 (0 = any free port), e.g. --port 5000\n' });
    const doc = tandem(['doctor', '--gateway', 'http://localhost:5000']);
    expect(doc).toEqual({ code: EXIT.userError, out: '', err: 'error: --gateway http://localhost:5000: the Client Portal Gateway speaks HTTPS only. Fix: use --gateway https://localhost:5000\n' });
  });

  it('doctor exits with its own code when a check fails, not the code of a bug', () => {
    const r = tandem(['doctor', '--gateway', 'https://127.0.0.1:9', '--data-dir', join(ROOT, 'node_modules', '.cache', 'tandem-doctor-test')]);
    expect(r.out).toMatch(/\[FAIL\] gateway reachable/);
    expect(r.code).toBe(EXIT.checksFailed);
    expect(EXIT.checksFailed).not.toBe(EXIT.bug);
  });

  it('lists every exit code in the README, once each, as src/util/exit-codes.ts does', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Exit codes'));
    const rows = [...section.matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(rows).toEqual(Object.values(EXIT));
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });

  it('colours by NO_COLOR, FORCE_COLOR and the terminal', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColor({ isTTY: true }, { FORCE_COLOR: '0' })).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });

  it('`npm start -- sim` stopped with SIGTERM leaves no simulator behind', async () => {
    // Its own process group, so that the test can clean up whatever is left if it fails.
    const npm = spawn('npm', ['start', '--silent', '--', 'sim', '--port', '0', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: npm.stdout! }).once('line', resolve);
      npm.once('exit', (code) => reject(new Error(`npm exited ${code}`)));
    });
    const { port } = JSON.parse(first) as { port: number };
    const listening = () => new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    expect(await listening()).toBe(true);
    npm.kill('SIGTERM');
    // Gone means no process left in npm's group (the simulator is in it). Not "the port answers no
    // more": a port from listen(0) is free for the kernel to hand to another job's server at once.
    const groupAlive = (): boolean => {
      try {
        process.kill(-npm.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 60_000;
    while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive()).toBe(false);
    } finally {
      try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
  }, 180_000);
});
