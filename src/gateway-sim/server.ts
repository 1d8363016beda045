/**
 * HTTPS front of the simulator: the Web API under /v1/api (alias /v1/portal), the login pages, the
 * test hooks under /sim/, and the websocket upgrade at /v1/api/ws.
 *
 * Pipeline of an API request: gateway strictness (User-Agent 403, Content-Length 411) → route →
 * pacing (429) → faults (hang, 5xx, latency) → idle expiry and activity → session requirements →
 * handler → request log.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SimCore } from './core.ts';
import { errorBody, type ApiRequest, type ApiResponse, type Router } from './router.ts';

export const JSON_TYPE = 'application/json;charset=utf-8';

export type RawHandler = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => Promise<void> | void;

export interface ServerParts {
  core: SimCore;
  router: Router;
  hooks: RawHandler;
  login: RawHandler;
  /** Paths served by `login`. */
  isLoginPath: (path: string) => boolean;
  cert: string;
  key: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length ? Buffer.concat(chunks).toString('utf8') : ''));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function createSimServer(parts: ServerParts): { server: Server; sockets: Set<Socket> } {
  const { core, router } = parts;
  const sockets = new Set<Socket>();

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL, apiPath: string, started: number): Promise<void> => {
    const method = req.method ?? 'GET';
    const realism = core.opts.realism;
    let status = 200;
    const finish = (r: ApiResponse): void => {
      status = r.status ?? 200;
      if (r.contentType !== undefined) {
        const text = typeof r.body === 'string' ? r.body : '';
        res.writeHead(status, { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(text), ...(r.headers ?? {}) });
        res.end(text);
      } else {
        sendJson(res, status, r.body, r.headers);
      }
      core.log({ at: started, simTime: core.clock.now(), method, path: apiPath + url.search, status, ms: Date.now() - started });
      core.opts.logger?.debug({ method, path: apiPath, status, ms: Date.now() - started }, 'sim request');
    };

    if (realism.requireUserAgent && !req.headers['user-agent']) {
      await readBody(req);
      return finish({ status: 403, contentType: 'text/html;charset=utf-8', body: '<html><body><h1>Access Denied</h1><p>Missing User-Agent header.</p></body></html>' });
    }
    if (realism.requireContentLength && (method === 'POST' || method === 'PUT') && req.headers['content-length'] === undefined) {
      await readBody(req);
      return finish({ status: 411, contentType: 'text/html;charset=utf-8', body: '<html><body><h1>411 Length Required</h1></body></html>' });
    }
    const raw = await readBody(req);
    const m = router.match(method, apiPath);
    if (!m) {
      return finish(router.pathExists(apiPath) ? errorBody(405, 'Method Not Allowed') : errorBody(404, `Resource not found: ${apiPath}`));
    }
    const verdict = core.pacing.check(m.route.key);
    if (!verdict.ok) {
      return finish({ status: 429, body: { error: verdict.reason === 'penalty' ? 'Too many requests: penalty box' : 'Too many requests', statusCode: 429 },
        headers: { 'Retry-After': String(Math.ceil(verdict.retryAfterMs / 1000)) } });
    }
    const fate = core.faults.draw();
    if (fate === 'hang') {
      core.log({ at: started, simTime: core.clock.now(), method, path: apiPath + url.search, status: 0, ms: 0 });
      return; // never answered; the socket is destroyed when the simulator closes
    }
    const latency = core.faults.latency();
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (fate === 500) return finish({ status: 500, body: { error: 'Internal Server Error', statusCode: 500 } });
    if (fate === 503) return finish({ status: 503, body: { error: 'Service Unavailable', statusCode: 503 } });

    const s = core.session;
    const now = Date.now();
    s.checkIdle(now, core.opts.brokerageTimeoutMs, core.opts.ssoTimeoutMs);
    if (s.sso) s.touch(now);

    const auth = m.route.auth;
    if (auth !== 'none') {
      if (!s.sso) return finish(errorBody(401, 'not authenticated'));
      if (auth === 'portfolio' && realism.requirePortfolioAccountsFirst && !s.portfolioPrimed) {
        return finish(errorBody(500, 'Please query /portfolio/accounts first'));
      }
      if (auth === 'brokerage' || auth === 'primed') {
        if (!s.brokerage) return finish(errorBody(401, 'not authenticated'));
        if (s.noBridgeUntil > now) {
          // Real gateways answer 400 "Bad Request: no bridge" right after login and after a reset (reference §1.7 catalog).
          const st = realism.noBridgeStatus;
          return finish({ status: st, body: { error: st === 400 ? 'Bad Request: no bridge' : 'no bridge', statusCode: st } });
        }
        if (auth === 'primed' && realism.requireAccountsFirst && !s.accountsPrimed) {
          return finish(errorBody(realism.accountsFirstStatus, 'Please query /accounts first'));
        }
      }
    }
    let body: unknown = undefined;
    if (raw.trim()) {
      const ct = String(req.headers['content-type'] ?? '');
      if (ct.includes('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw));
      else {
        try {
          body = JSON.parse(raw);
        } catch {
          return finish(errorBody(400, 'Bad Request: body is not valid JSON'));
        }
      }
    }
    const apiReq: ApiRequest = { method, path: apiPath, params: m.params, query: url.searchParams, body, headers: req.headers };
    let out: ApiResponse;
    try {
      out = await m.route.handler(apiReq);
    } catch (err) {
      core.opts.logger?.error({ err, path: apiPath }, 'simulator handler failed');
      out = errorBody(500, `Internal Server Error: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (out.delayMs) await new Promise((r) => setTimeout(r, out.delayMs));
    finish(out);
  };

  const server = createServer({ cert: parts.cert, key: parts.key, keepAliveTimeout: 30_000 }, (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const path = url.pathname;
    const done = (p: Promise<void> | void): void => {
      Promise.resolve(p).catch((err: unknown) => {
        core.opts.logger?.error({ err }, 'simulator request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'Internal Server Error', statusCode: 500 });
      });
    };
    if (path.startsWith('/sim/') || path === '/sim') {
      done(readBody(req).then((b) => parts.hooks(req, res, url, b)));
      return;
    }
    if (parts.isLoginPath(path)) {
      done(readBody(req).then((b) => parts.login(req, res, url, b)));
      return;
    }
    for (const prefix of ['/v1/api', '/v1/portal']) {
      if (path === prefix || path.startsWith(`${prefix}/`)) {
        done(handleApi(req, res, url, path.slice(prefix.length) || '/', started));
        return;
      }
    }
    res.writeHead(404, { 'Content-Type': 'text/html;charset=utf-8' });
    res.end('<html><body><h1>404 Not Found</h1></body></html>');
  });
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  server.on('secureConnection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  return { server, sockets };
}
