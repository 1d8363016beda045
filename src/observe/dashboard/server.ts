/**
 * The dashboard server (fastify): the live page, its server-sent events, /metrics for Prometheus
 * and /healthz for systemd or Docker health checks.
 *
 * Used two ways with the same code: in the node's process (`tandem run --dashboard`), given the
 * node's journal watcher and metrics; or on its own (`tandem dashboard --journal FILE`), following
 * the journal of a node running elsewhere on the machine.
 *
 * Access: bound to loopback unless `allowRemote` is set explicitly; every route but /healthz needs
 * the random token printed at start (`?token=` in the URL, or `Authorization: Bearer`), compared in
 * constant time; a request without it gets 401. /healthz says only ok or why not.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../log/logger.ts';
import { UserError } from '../../util/errors.ts';
import { JournalReader } from '../journal-reader.ts';
import { NodeMetrics } from '../metrics.ts';
import { JournalWatcher } from '../watcher.ts';
import { DashboardFeed, type FeedUpdate } from './feed.ts';
import { renderDashboardPage } from './page.ts';

export interface DashboardOptions {
  journalFile: string;
  port?: number;
  host?: string;
  /** Required to bind anything but loopback (the token is still required). */
  allowRemote?: boolean;
  token?: string;
  /** In-process: the node's watcher (poked at each engine event) and metrics. */
  watcher?: JournalWatcher;
  metrics?: NodeMetrics;
  pollMs?: number;
  logger?: Logger;
}

export interface RunningDashboard {
  url: string;
  /** The page's address with the token. */
  pageUrl: string;
  token: string;
  port: number;
  metrics: NodeMetrics;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function tokenOf(req: FastifyRequest): string | null {
  const q = (req.query as { token?: unknown } | undefined)?.token;
  if (typeof q === 'string') return q;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : null;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startDashboard(o: DashboardOptions): Promise<RunningDashboard> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopback(host) && !o.allowRemote) {
    throw new UserError(`the dashboard binds to loopback only; ${host} would expose it to the network. Fix: leave --host out, or add --allow-remote (the token is still required; put TLS in front of it).`, 'TANDEM_BAD_OPTION');
  }
  const token = o.token ?? randomBytes(18).toString('base64url');
  const ownReader = o.watcher ? null : new JournalReader(o.journalFile);
  const watcher = o.watcher ?? new JournalWatcher(ownReader!, { pollMs: o.pollMs ?? 1_000 }).start();
  const metrics = o.metrics ?? new NodeMetrics();
  if (!o.metrics) metrics.attachWatcher(watcher);
  const feed = new DashboardFeed(watcher.reader, watcher);
  const clients = new Set<FastifyReply>();
  const onUpdate = (u: FeedUpdate): void => {
    const frame = `event: ${u.type}\ndata: ${JSON.stringify(u)}\n\n`;
    for (const c of clients) c.raw.write(frame);
  };
  feed.on('update', onUpdate);

  const app: FastifyInstance = Fastify({ logger: false });
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.split('?')[0] === '/healthz') return;
    const t = tokenOf(req);
    if (t === null || !sameToken(t, token)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a valid token is required: open the URL printed at start (…/?token=...)' });
    }
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderDashboardPage()));
  app.get('/api/snapshot', async () => feed.snapshot());
  app.get('/events', (req, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(feed.snapshot())}\n\n`);
    clients.add(reply);
    const ping = setInterval(() => raw.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      clients.delete(reply);
    });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  app.get('/healthz', async (_req, reply) => {
    const h = feed.health();
    return reply.code(h.ok ? 200 : 503).send({ ok: h.ok, reasons: h.reasons, session: h.session.state, trading: h.trading.state, nodeRunning: h.nodeRunning });
  });

  await app.listen({ port: o.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? 0);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  o.logger?.info({ url }, 'dashboard listening');
  return {
    url, token, port, metrics, pageUrl: `${url}/?token=${token}`,
    async close() {
      feed.close();
      for (const c of clients) c.raw.end();
      clients.clear();
      await app.close();
      if (ownReader) {
        watcher.stop();
        ownReader.close();
      }
      if (!o.metrics) metrics.close();
    },
  };
}
