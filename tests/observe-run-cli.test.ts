/**
 * `tandem run --dashboard` through the real command (a child process) against the simulator: the
 * dashboard URL with its token is printed, /healthz, /api/snapshot and /metrics answer from inside
 * the node (gateway requests counted), the trade lines come out as JSON lines on a pipe, and the
 * node status record says it stopped after SIGINT.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, waitFor, type Harness } from './helpers/engine-harness.ts';
import { startTandem, type Child } from './helpers/processes.ts';
import { pairStrategyYaml } from './helpers/strategy-yaml.ts';
import { parsePrometheusText } from './helpers/prom-text.ts';

let h: Harness | undefined;
let child: Child | undefined;
afterEach(async () => {
  if (child && child.proc.exitCode === null) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
  await h?.close();
  h = undefined;
  child = undefined;
});

describe('observe: tandem run --dashboard', () => {
  it('run --dashboard serves the page, metrics and health from inside the node; JSON trade lines when piped; the status record says stopped', async () => {
    h = await startHarness();
    writeFileSync(join(h.dir, 's.yaml'), pairStrategyYaml({ name: 'etha_ethv' }));
    const journal = join(h.dir, 'data', 'journal.sqlite');
    writeFileSync(join(h.dir, 'e.yaml'), `kind: engine
gateway: { url: "${h.sim.url}" }
dataDir: ${join(h.dir, 'data')}
strategies: [s.yaml]
`);
    child = startTandem(['run', '--config', join(h.dir, 'e.yaml'), '--dashboard'], { IBKR_PAPER_ACCOUNT_ID: h.sim.accounts.paper });
    const urlLine = await child.waitLine(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/, 120_000);
    const pageUrl = urlLine.slice('dashboard: '.length);
    const base = new URL(pageUrl).origin;
    const token = new URL(pageUrl).searchParams.get('token')!;
    expect((await fetch(`${base}/api/snapshot`)).status).toBe(401);
    await child.waitLine(/engine running/, 150_000);
    h.go(300);
    await waitFor(() => child!.lines.some((l) => l.startsWith('{') && (JSON.parse(l) as { kind?: string }).kind === 'fill'), 120_000, 'a fill line');

    const lines = child.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    // Why before what: the decision's line precedes its orders and fills.
    const kinds = lines.map((l) => l.kind).filter((k) => k === 'decision' || k === 'order' || k === 'fill');
    expect(kinds[0]).toBe('decision');
    const decision = lines.find((l) => l.kind === 'decision')!;
    expect(decision).toMatchObject({ strategy: 'etha_ethv', action: 'enter', reason: 'entry' });
    expect(typeof decision.z).toBe('number');
    expect(typeof decision.hedgeRatio).toBe('number');
    expect(lines.find((l) => l.kind === 'order')).toMatchObject({ strategy: 'etha_ethv', cOID: expect.stringMatching(/^tdm-/) });
    expect(lines.find((l) => l.kind === 'fill')).toMatchObject({ strategy: 'etha_ethv', symbol: expect.stringMatching(/^ETH[AV]$/) });

    const hz = await fetch(`${base}/healthz`);
    expect(hz.status).toBe(200);
    expect(await hz.json()).toMatchObject({ ok: true, session: 'up', trading: 'active', nodeRunning: true });
    const snap = (await (await fetch(`${base}/api/snapshot?token=${token}`)).json()) as { strategies: { id: string; z: unknown[] }[] };
    expect(snap.strategies[0]!.id).toBe('etha_ethv');
    expect(snap.strategies[0]!.z.length).toBeGreaterThan(0);
    const fams = parsePrometheusText(await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    const requests = fams.get('tandem_gateway_requests_total')!.samples;
    expect(requests.reduce((a, s) => a + s.value, 0)).toBeGreaterThan(5);
    expect(requests.some((s) => s.labels.endpoint === '/v1/api/iserver/account/orders' || s.labels.endpoint!.startsWith('/v1/api/iserver/'))).toBe(true);

    child.proc.kill('SIGINT');
    expect(await child.exited).toBe(0);
    const status = JSON.parse(readFileSync(`${journal}.status.json`, 'utf8')) as { stoppedAt: number | null; trading: { state: string; reason: string } };
    expect(status.stoppedAt).not.toBeNull();
    expect(status.trading).toEqual({ state: 'stopped', reason: 'signal' });
  }, 300_000);
});
