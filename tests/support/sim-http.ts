/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are untyped JSON that the tests check field by field */
/**
 * Plain HTTP helpers for the simulator's conformance tests: undici with certificate checks off and
 * ws — deliberately not the project's IBKR client, so the tests check the simulator against the
 * reference rather than against the client's understanding of it.
 */
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import type { RunningSimulator } from '../../src/gateway-sim/index.ts';

export const agent = new Agent({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 10_000, pipelining: 1 });

export interface Res<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface CallOptions {
  headers?: Record<string, string>;
  /** Raw body (string); objects are JSON-encoded. */
  body?: unknown;
  noUserAgent?: boolean;
  timeoutMs?: number;
}

export async function call<T = any>(base: string, method: string, path: string, o: CallOptions = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...(o.noUserAgent ? {} : { 'user-agent': 'tandem-sim-test/1.0' }), ...(o.headers ?? {}) };
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    if (typeof o.body !== 'string') headers['content-type'] ??= 'application/json';
  } else if (method === 'POST') {
    body = '';
  }
  const res = await request(`${base}${path}`, {
    method: method as 'GET', headers, body, dispatcher: agent,
    ...(o.timeoutMs ? { headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs } : {}),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: res.statusCode, body: parsed as T, text, headers: res.headers };
}

/** Client for one simulator: api() under /v1/api, hook() under /sim. */
export function clientFor(sim: RunningSimulator) {
  return {
    api: <T = any>(method: string, path: string, o?: CallOptions) => call<T>(sim.apiUrl, method, path, o),
    hook: <T = any>(method: string, path: string, body?: unknown) => call<T>(sim.url, method, `/sim${path}`, body === undefined ? {} : { body }),
    raw: <T = any>(method: string, path: string, o?: CallOptions) => call<T>(sim.url, method, path, o),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Reads until `ok` holds for what was read, and returns it. The timeout is a bound for a loaded
 * machine, not a duration: the wait ends at the first read that passes.
 */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms; last read: ${JSON.stringify(v).slice(0, 500)}`);
    await sleep(50);
  }
}

/** An open websocket that records every frame (parsed when JSON). */
export class WsRecorder {
  readonly frames: any[] = [];
  private waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  closed = false;
  closeCode = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const text = data.toString();
      let f: any = text;
      try { f = JSON.parse(text); } catch { /* raw text frame, e.g. ech+hb */ }
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => { if (w.pred(f)) { w.resolve(f); return false; } return true; });
    });
    ws.on('close', (code) => { this.closed = true; this.closeCode = code; });
  }

  static async open(sim: RunningSimulator, cookieToken?: string, path = '/v1/api/ws'): Promise<WsRecorder> {
    const ws = new WebSocket(`wss://127.0.0.1:${sim.port}${path}`, {
      rejectUnauthorized: false, headers: { 'User-Agent': 'tandem-sim-test/1.0', ...(cookieToken ? { Cookie: `api=${cookieToken}` } : {}) },
    });
    const rec = new WsRecorder(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    return rec;
  }

  /** Resolves with the first frame (already received or future) matching pred. */
  waitFor(pred: (f: any) => boolean, timeoutMs = 30_000): Promise<any> {
    const seen = this.frames.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 2000)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (f) => { clearTimeout(t); resolve(f); } });
    });
  }

  /** Resolves once `count` more frames matching pred have arrived (counting from now). */
  waitForMore(pred: (f: any) => boolean, count: number, timeoutMs = 30_000): Promise<void> {
    let left = count;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`fewer than ${count} new matching frames within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ pred: (f) => pred(f) && --left === 0, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }

  /**
   * A round trip through the server (ech+hb echoes in order on this socket): every frame the server
   * sent before it handled the echo has been received when this resolves.
   */
  async roundTrip(): Promise<void> {
    const got = this.waitForMore((f) => f === 'ech+hb', 1);
    this.send('ech+hb');
    await got;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): void {
    this.ws.terminate();
  }
}
