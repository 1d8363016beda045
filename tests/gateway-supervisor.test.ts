import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewaySupervisor, groupAlive, nextBackoff } from '../src/gateway/supervisor.ts';
import { readGatewayDir } from '../src/gateway/conf.ts';
import { callGateway } from '../src/gateway/http.ts';
import { UserError } from '../src/util/errors.ts';
import { createFakeGateway, isAlive } from './helpers/fake-gateway.ts';
import { freePort } from './helpers/ports.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tickleStatus(baseUrl: string): Promise<number | undefined> {
  try {
    return (await callGateway(baseUrl, '/v1/api/tickle', { timeoutMs: 1_000 })).status;
  } catch {
    return undefined;
  }
}

async function setup(overrides: Partial<ConstructorParameters<typeof GatewaySupervisor>[0]> = {}) {
  const gw = await createFakeGateway(await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'tandem-data-'));
  const logFile = join(dataDir, 'logs', 'gateway.log');
  const sup = new GatewaySupervisor({
    dir: gw.dir,
    baseUrl: gw.baseUrl,
    logFile,
    healthIntervalMs: 200,
    healthTimeoutMs: 300,
    unhealthyThreshold: 3,
    startupGraceMs: 5_000,
    restartBackoff: { initialMs: 100, maxMs: 1_000, factor: 2 },
    stopTimeoutMs: 3_000,
    ...overrides,
  });
  cleanups.push(async () => {
    await sup.stop();
    rmSync(gw.dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { gw, sup, logFile };
}

describe('gateway supervisor', () => {
  it('reads the port and URL from root/conf.yaml and explains a wrong folder', async () => {
    const gw = await createFakeGateway(5123);
    cleanups.push(() => rmSync(gw.dir, { recursive: true, force: true }));
    const d = readGatewayDir(gw.dir);
    expect(d.listenPort).toBe(5123);
    expect(d.baseUrl).toBe('https://127.0.0.1:5123');
    const empty = mkdtempSync(join(tmpdir(), 'tandem-empty-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    expect(() => readGatewayDir(empty)).toThrow(UserError);
    expect(() => readGatewayDir(empty)).toThrow(/bin\/run\.sh is missing/);
    writeFileSync(join(gw.dir, 'root', 'conf.yaml'), 'listenPort: 99999\n');
    expect(() => readGatewayDir(gw.dir)).toThrow(/listenPort must be a port number/);
  });

  it('computes exponential backoff with a cap', () => {
    const b = { initialMs: 1000, maxMs: 5000, factor: 2 };
    expect(nextBackoff(undefined, b)).toBe(1000);
    expect(nextBackoff(1000, b)).toBe(2000);
    expect(nextBackoff(4000, b)).toBe(5000);
  });

  it('restarts a gateway process that dies, then stops cleanly with no orphan left', async () => {
    const { gw, sup, logFile } = await setup();
    sup.start();
    await waitFor('first server', async () => (await tickleStatus(gw.baseUrl)) === 401);
    const [first] = gw.serverPids();
    expect(first).toBeDefined();
    const leader1 = sup.pid!;

    // Kill the "java" child the way a crash would; run.sh then exits and the supervisor restarts it.
    process.kill(first!, 'SIGKILL');
    await waitFor('restarted server', async () => gw.serverPids().length === 2 && (await tickleStatus(gw.baseUrl)) === 401);
    expect(sup.restartCount).toBe(1);
    expect(sup.pid).not.toBe(leader1);
    const leader2 = sup.pid!;

    await sup.stop();
    expect(sup.state).toBe('stopped');
    for (const pid of [...gw.serverPids(), leader1, leader2]) expect(isAlive(pid), `pid ${pid} still alive`).toBe(false);
    expect(groupAlive(leader2)).toBe(false);
    expect(await tickleStatus(gw.baseUrl)).toBeUndefined();

    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('running fake gateway with root/conf.yaml');
    expect(log).toMatch(/restarting in \d+ ms: exited/);
    expect(log).toContain('supervisor stopped');
  });

  it('restarts a gateway that stops answering tickle for N checks', async () => {
    const { gw, sup } = await setup();
    const unhealthy: number[] = [];
    sup.on('unhealthy', (n) => unhealthy.push(n));
    sup.start();
    await waitFor('first server', async () => (await tickleStatus(gw.baseUrl)) === 401);
    writeFileSync(join(gw.dir, 'hang'), '');
    await waitFor('restart after hang', () => gw.serverPids().length === 2, 30_000);
    expect(unhealthy).toEqual([3]);
    rmSync(join(gw.dir, 'hang'));
    await waitFor('healthy again', async () => (await tickleStatus(gw.baseUrl)) === 401);
    const [first] = gw.serverPids().sort((a, b) => a - b);
    expect(isAlive(first!)).toBe(false);
    await sup.stop();
    for (const pid of gw.serverPids()) expect(isAlive(pid)).toBe(false);
  });

  it('kills a gateway that ignores SIGTERM when stopping', async () => {
    const { gw, sup } = await setup({ stopTimeoutMs: 500 });
    // A run.sh that traps TERM and keeps its child: stop() must still leave nothing behind.
    writeFileSync(join(gw.dir, 'bin', 'run.sh'), '#!/bin/bash\ntrap "" TERM\nnode server.mjs "$1" &\nwait\nwait\n', { mode: 0o755 });
    writeFileSync(join(gw.dir, 'server.mjs'), `process.on('SIGTERM', () => {});\n` + readFileSync(join(gw.dir, 'server.mjs'), 'utf8'));
    sup.start();
    await waitFor('server', async () => (await tickleStatus(gw.baseUrl)) === 401);
    const leader = sup.pid!;
    await sup.stop();
    expect(isAlive(leader)).toBe(false);
    for (const pid of gw.serverPids()) expect(isAlive(pid)).toBe(false);
  });
});

describe('tandem gateway (CLI)', () => {
  const bin = join(process.cwd(), 'bin', 'tandem.js');

  it('prints a systemd unit that starts the supervisor on the given folder', async () => {
    const { execFileSync } = await import('node:child_process');
    const gw = await createFakeGateway(5124);
    cleanups.push(() => rmSync(gw.dir, { recursive: true, force: true }));
    const unit = execFileSync(process.execPath, [bin, 'gateway', 'unit', '--dir', gw.dir, '--data-dir', '/var/lib/tandem'], { encoding: 'utf8' });
    expect(unit).toContain('[Service]');
    expect(unit).toMatch(new RegExp(`ExecStart=\\S*node\\S* \\S*bin/tandem.js gateway start --dir ${gw.dir} --data-dir /var/lib/tandem`));
    expect(unit).toContain('Restart=always');
    expect(unit).toContain('WantedBy=default.target');
    const system = execFileSync(process.execPath, [bin, 'gateway', 'unit', '--dir', gw.dir, '--system', 'trader'], { encoding: 'utf8' });
    expect(system).toContain('User=trader');
    expect(system).toContain('WantedBy=multi-user.target');
  });

  it('runs the gateway until SIGTERM, then exits 0 leaving no process behind', async () => {
    const { spawn } = await import('node:child_process');
    const gw = await createFakeGateway(await freePort());
    const dataDir = mkdtempSync(join(tmpdir(), 'tandem-data-'));
    cleanups.push(() => {
      rmSync(gw.dir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });
    const child = spawn(process.execPath, [bin, 'gateway', 'start', '--dir', gw.dir, '--data-dir', dataDir, '--health-interval', '1'], { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor('gateway up', async () => (await tickleStatus(gw.baseUrl)) === 401, 30_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of gw.serverPids()) expect(isAlive(pid)).toBe(false);
    expect(await tickleStatus(gw.baseUrl)).toBeUndefined();
    expect(readFileSync(join(dataDir, 'logs', 'gateway.log'), 'utf8')).toContain('fake gateway listening');
    expect(stderr).toContain('stopping the gateway');
  });

  it('explains a folder that is not a gateway', async () => {
    const { spawnSync } = await import('node:child_process');
    const empty = mkdtempSync(join(tmpdir(), 'tandem-empty-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const r = spawnSync(process.execPath, [bin, 'gateway', 'start', '--dir', empty], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a Client Portal Gateway folder: bin/run.sh is missing');
  });
});
