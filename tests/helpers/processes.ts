/** Child processes for the crash tests: the simulator and the engine, each a real `tandem` process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tandemArgv } from './tandem-cli.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a `tandem sim` child may take to print its URL: a bound, generous for a loaded 2-core machine. */
export const SIM_START_TIMEOUT_MS = 120_000;

export interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the first stdout/stderr line matching `re`. */
  waitLine(re: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

export function startTandem(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onLine = (l: string): void => {
    lines.push(l);
    for (const w of [...waiters]) if (w.re.test(l)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  };
  createInterface({ input: proc.stdout }).on('line', onLine);
  createInterface({ input: proc.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc, lines, exited,
    waitLine(re, timeoutMs) {
      const hit = lines.find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${lines.slice(-30).join('\n')}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
        void exited.then((code) => { clearTimeout(t); reject(new Error(`process exited (${code}) before ${re}:\n${lines.slice(-30).join('\n')}`)); });
      });
    },
  };
}

/** Runs `tandem ARGS` to the end in `cwd`: its exit code, stdout and stderr (a failure is a result, not a throw). */
export async function runTandem(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(process.execPath, tandemArgv(args), { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

/** The simulator's order and portfolio hooks, as the process tests read them. */
export type SimOrder = { orderId: number; cOID?: string; conid: number; status: string; filledQty: number };
export type SimPortfolio = { id: string; positions: { conid: number; qty: number }[] }[];

/**
 * The child processes and temp dirs of one test file: `cleanup()` (in afterEach) SIGKILLs the
 * children still running and removes the dirs.
 */
export class ProcessScope {
  private readonly children: Child[] = [];
  private readonly dirs: string[] = [];

  tandem(args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const c = startTandem(args, env);
    this.children.push(c);
    return c;
  }

  tempDir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** A `tandem sim` child (ideal profile, logged in, seed 7) starting at `startTime`. */
  async sim(startTime: number): Promise<{ url: string; accounts: { paper: string } }> {
    const sim = this.tandem(['sim', '--port', '0', '--json', '--authenticated', '--profile', 'ideal', '--seed', '7', '--start-time', new Date(startTime).toISOString()]);
    // A bound only (the wait ends at the line): a tsx start-up beside a CPU hog on 2 cores takes tens of seconds.
    return JSON.parse(await sim.waitLine(/^\{"url"/, SIM_START_TIMEOUT_MS)) as { url: string; accounts: { paper: string } };
  }

  cleanup(): void {
    for (const c of this.children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
