/** `tandem sim` and `tandem run` as real child processes, for the lock and shutdown tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BROWSER_PATH } from '../../src/auth/chromium.ts';
import { DAY_OPEN } from './engine-harness.ts';
import { SIM_START_TIMEOUT_MS, startTandem, type Child } from './processes.ts';
import { pairStrategyYaml } from './strategy-yaml.ts';

export const BROWSER = process.env.TANDEM_CHROMIUM ?? DEFAULT_BROWSER_PATH;

/** Children and temp dirs of one test, killed and removed by `cleanup()` (call it in afterEach). */
export class NodeProcesses {
  readonly children: Child[] = [];
  readonly dirs: string[] = [];

  start(args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const c = startTandem(args, env);
    this.children.push(c);
    return c;
  }

  async startSim(authenticated: boolean): Promise<{ url: string; accounts: { paper: string } }> {
    const sim = this.start(['sim', '--port', '0', '--json', '--profile', 'ideal', '--seed', '7', '--start-time', new Date(DAY_OPEN).toISOString(), ...(authenticated ? ['--authenticated'] : [])]);
    return JSON.parse(await sim.waitLine(/^\{"url"/, SIM_START_TIMEOUT_MS)) as { url: string; accounts: { paper: string } };
  }

  /** An engine config (ETHA/ETHV pair) in a new temp dir; returns the config file. */
  engineConfig(url: string, o: { autoLogin?: boolean } = {}): string {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-node-'));
    this.dirs.push(dir);
    writeFileSync(join(dir, 'strategy.yaml'), pairStrategyYaml());
    writeFileSync(join(dir, 'engine.yaml'), `kind: engine
gateway: { url: "${url}", timeoutMs: 60000 }
dataDir: ${join(dir, 'data')}
auth: { autoLogin: ${o.autoLogin ?? false}, browserPath: ${BROWSER} }
logging: { level: DEBUG }
strategies: [strategy.yaml]
`);
    return join(dir, 'engine.yaml');
  }

  cleanup(): void {
    for (const c of this.children.splice(0)) c.proc.kill('SIGKILL');
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Polls the output until `re` has matched `n` lines. */
export async function waitCount(c: Child, re: RegExp, n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (c.lines.filter((l) => re.test(l)).length < n) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${n}x ${re} in:\n${c.lines.slice(-30).join('\n')}`);
    if (c.proc.exitCode !== null) throw new Error(`exited (${c.proc.exitCode}) before ${n}x ${re}:\n${c.lines.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the exit code, or 'still running' when the process outlived `ms`. */
export function exitWithin(c: Child, ms: number): Promise<number | null | 'still running'> {
  return Promise.race([c.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);
}
