/**
 * Runs the Client Portal Gateway (`bin/run.sh root/conf.yaml`) and keeps it running:
 * - restarts it when it exits, with exponential backoff (reset after a long healthy run);
 * - checks health with `POST /v1/api/tickle` and restarts it after N failed checks in a row
 *   (any HTTP answer below 500 is healthy: 401 only means nobody is logged in, which is a login
 *   matter, not a dead process; a 5xx answer counts a quarter, as IBKR answers 5xx around its
 *   nightly reset);
 * - appends its output to a log file;
 * - stops it cleanly: SIGTERM to the whole process group (run.sh starts java as a child), SIGKILL
 *   after a grace period, so no orphan java is left holding the port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, existsSync, readdirSync, readFileSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger, scrubSecrets, type Logger } from '../log/logger.ts';
import { callGateway } from './http.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../util/private-files.ts';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface GatewaySupervisorOptions {
  /** The gateway folder (contains bin/run.sh and root/conf.yaml); the process runs there. */
  dir: string;
  /** Command and arguments; default `bash bin/run.sh root/conf.yaml` (bash: unzipped run.sh often lacks +x). */
  command?: string[];
  /** Gateway URL for health checks, e.g. https://localhost:5000. */
  baseUrl: string;
  /** File that receives the gateway's output and the supervisor's own lines. */
  logFile: string;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** Consecutive failed health checks before a restart (a 5xx answer counts a quarter). */
  unhealthyThreshold?: number;
  /** Failed checks are not counted until the gateway answered once or this much time passed (java starts slowly). */
  startupGraceMs?: number;
  restartBackoff?: Partial<BackoffOptions>;
  /** A run at least this long resets the backoff to its initial delay. */
  backoffResetAfterMs?: number;
  /** Time between SIGTERM and SIGKILL on stop/restart. */
  stopTimeoutMs?: number;
  /** At a (re)start a log larger than this moves to `<logFile>.1`. Default 20 MB. */
  maxLogBytes?: number;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export type SupervisorState = 'idle' | 'running' | 'waiting' | 'stopping' | 'stopped';

export interface SupervisorEvents {
  start: [pid: number];
  exit: [code: number | null, signal: NodeJS.Signals | null];
  health: [ok: boolean, detail: string];
  unhealthy: [failures: number];
  restart: [delayMs: number, reason: string];
  stopped: [];
}

export function nextBackoff(previousMs: number | undefined, b: BackoffOptions): number {
  if (previousMs === undefined) return b.initialMs;
  return Math.min(b.maxMs, Math.round(previousMs * b.factor));
}

export class GatewaySupervisor extends EventEmitter<SupervisorEvents> {
  private readonly opts: Required<Omit<GatewaySupervisorOptions, 'restartBackoff' | 'env' | 'logger' | 'command'>> & {
    command: string[];
    backoff: BackoffOptions;
    env: NodeJS.ProcessEnv;
  };
  private readonly log: Logger;
  private child: ChildProcess | undefined;
  private childExit: Promise<void> | undefined;
  private out: WriteStream | undefined;
  private stateValue: SupervisorState = 'idle';
  private lastDelay: number | undefined;
  private startedAt = 0;
  private answeredOnce = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private restarts = 0;

  constructor(options: GatewaySupervisorOptions) {
    super();
    this.opts = {
      dir: options.dir,
      command: options.command ?? ['bash', 'bin/run.sh', 'root/conf.yaml'],
      baseUrl: options.baseUrl,
      logFile: options.logFile,
      healthIntervalMs: options.healthIntervalMs ?? 30_000,
      healthTimeoutMs: options.healthTimeoutMs ?? 10_000,
      unhealthyThreshold: options.unhealthyThreshold ?? 3,
      startupGraceMs: options.startupGraceMs ?? 90_000,
      backoff: { initialMs: 2_000, maxMs: 120_000, factor: 2, ...options.restartBackoff },
      backoffResetAfterMs: options.backoffResetAfterMs ?? 300_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
      maxLogBytes: options.maxLogBytes ?? 20 * 1024 * 1024,
      env: options.env ?? process.env,
    };
    this.log = options.logger ?? silentLogger;
  }

  get state(): SupervisorState {
    return this.stateValue;
  }

  /** Process id of run.sh (the group leader), while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times the gateway was started again after the first start. */
  get restartCount(): number {
    return this.restarts;
  }

  start(): void {
    if (this.stateValue !== 'idle' && this.stateValue !== 'stopped') throw new Error(`supervisor already ${this.stateValue}`);
    ensurePrivateDir(dirname(this.opts.logFile), 'log directory');
    this.openLog();
    this.spawnGateway();
    this.healthTimer = setInterval(() => void this.checkHealth(), this.opts.healthIntervalMs);
  }

  /** Stops the gateway and supervision; resolves when the whole process group is gone. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'idle') return;
    this.stateValue = 'stopping';
    clearInterval(this.healthTimer);
    clearTimeout(this.restartTimer);
    await this.killChild('stop requested');
    this.note('supervisor stopped');
    await new Promise<void>((res) => (this.out ? this.out.end(res) : res()));
    this.out = undefined;
    this.stateValue = 'stopped';
    this.emit('stopped');
  }

  /** Opens the log, first moving a large one to `.1` (one old file kept: the gateway is chatty). */
  private openLog(): void {
    try {
      if (statSync(this.opts.logFile).size > this.opts.maxLogBytes) {
        this.out?.end();
        this.out = undefined;
        renameSync(this.opts.logFile, `${this.opts.logFile}.1`);
      }
    } catch {
      // no log yet
    }
    this.out ??= createWriteStream(this.opts.logFile, { flags: 'a', mode: PRIVATE_FILE_MODE });
  }

  private note(line: string): void {
    this.out?.write(`${new Date().toISOString()} [tandem] ${line}\n`);
  }

  private spawnGateway(): void {
    const [cmd, ...args] = this.opts.command;
    if (!cmd) throw new Error('empty gateway command');
    // detached: the child leads a new process group, so the group (run.sh and its java) can be signalled at once.
    const child = spawn(cmd, args, { cwd: this.opts.dir, env: this.opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    this.answeredOnce = false;
    this.failures = 0;
    this.stateValue = 'running';
    const forward = (chunk: Buffer): void => {
      this.out?.write(scrubSecrets(chunk.toString('utf8')));
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    this.childExit = new Promise<void>((resolveExit) => {
      child.once('exit', (code, signal) => {
        resolveExit();
        this.onExit(child, code, signal);
      });
    });
    child.once('error', (err) => {
      this.note(`could not start ${cmd}: ${err.message}`);
      this.log.error({ err: err.message }, 'gateway process could not start');
    });
    if (child.pid !== undefined) {
      this.note(`started gateway: ${this.opts.command.join(' ')} (pid ${child.pid})`);
      this.log.info({ pid: child.pid, dir: this.opts.dir }, 'gateway started');
      this.emit('start', child.pid);
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.note(`gateway exited (code ${code ?? '-'}, signal ${signal ?? '-'})`);
    this.emit('exit', code, signal);
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') return;
    // Kill whatever the script left behind in its group (a java that outlived run.sh holds the port).
    signalGroup(child.pid, 'SIGKILL');
    this.scheduleRestart(`exited with ${signal ? `signal ${signal}` : `code ${code}`}`);
  }

  private scheduleRestart(reason: string): void {
    const ranMs = Date.now() - this.startedAt;
    if (ranMs >= this.opts.backoffResetAfterMs) this.lastDelay = undefined;
    const delay = nextBackoff(this.lastDelay, this.opts.backoff);
    this.lastDelay = delay;
    this.stateValue = 'waiting';
    this.note(`restarting in ${delay} ms: ${reason}`);
    this.log.warn({ delayMs: delay, reason }, 'gateway will be restarted');
    this.emit('restart', delay, reason);
    this.restartTimer = setTimeout(() => {
      if (this.stateValue !== 'waiting') return;
      this.restarts++;
      this.openLog();
      this.spawnGateway();
    }, delay);
  }

  private async checkHealth(): Promise<void> {
    if (this.stateValue !== 'running' || this.checking) return;
    this.checking = true;
    let ok = false;
    let answered = false;
    let detail: string;
    try {
      const res = await callGateway(this.opts.baseUrl, '/v1/api/tickle', { timeoutMs: this.opts.healthTimeoutMs });
      answered = true;
      ok = res.status < 500;
      detail = `tickle HTTP ${res.status}`;
    } catch (err) {
      detail = `tickle failed: ${(err as Error).message}`;
    } finally {
      this.checking = false;
    }
    if (this.stateValue !== 'running') return;
    this.emit('health', ok, detail);
    if (ok) {
      this.answeredOnce = true;
      this.failures = 0;
      return;
    }
    const inGrace = !this.answeredOnce && Date.now() - this.startedAt < this.opts.startupGraceMs;
    if (inGrace) return;
    // A 5xx answer is a live process relaying IBKR's trouble (normal around the nightly reset):
    // it counts a quarter of a check that got no answer at all.
    this.failures += answered ? 0.25 : 1;
    this.log.warn({ failures: this.failures, detail }, 'gateway health check failed');
    if (this.failures >= this.opts.unhealthyThreshold) {
      this.note(`unhealthy after ${this.failures} failed checks (${detail}); restarting`);
      this.emit('unhealthy', this.failures);
      this.stateValue = 'waiting';
      const child = this.child;
      this.child = undefined;
      await this.killProcess(child);
      this.scheduleRestart(`unhealthy: ${detail}`);
    }
  }

  private async killChild(reason: string): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.note(`stopping gateway (pid ${child.pid}): ${reason}`);
    await this.killProcess(child);
    this.child = undefined;
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves once the leader exited and the group is gone. */
  private async killProcess(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.pid === undefined) return;
    const pid = child.pid;
    const exited = child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((res) => child.once('exit', () => res()));
    signalGroup(pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), this.opts.stopTimeoutMs).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      this.note(`gateway did not stop within ${this.opts.stopTimeoutMs} ms; killing it`);
    }
    // Whatever is still alive in the group (the leader or children that ignored SIGTERM) is killed now.
    signalGroup(pid, 'SIGKILL');
    await exited;
    await waitGroupGone(pid, this.opts.stopTimeoutMs);
  }
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Whether any live (non-zombie) process is left in the group. On Linux /proc is read, because a
 * zombie nobody reaps (PID 1 in some containers does not) still answers kill(-pgid, 0).
 */
export function groupAlive(pgid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // Fields after the parenthesised command name: state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGroupGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (groupAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}
