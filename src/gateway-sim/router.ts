/**
 * A tiny router: "METHOD /path/{param}" patterns matched segment by segment.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** What a route requires of the session before its handler runs. */
export type RouteAuth =
  | 'none'
  /** SSO (read-only) session. */
  | 'sso'
  /** SSO + /portfolio/accounts called first (realistic). */
  | 'portfolio'
  /** SSO + brokerage session (+ no "no bridge" window). */
  | 'brokerage'
  /** Brokerage + GET /iserver/accounts called first (realistic). */
  | 'primed';

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingHttpHeaders;
}

export interface ApiResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
  /** Send the body as-is (already a string), with this content type. */
  contentType?: string;
  /** Delay the answer (real ms) — used by the order-503 fault. */
  delayMs?: number;
}

export type Handler = (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;

export interface Route {
  method: string;
  pattern: string;
  segments: string[];
  auth: RouteAuth;
  handler: Handler;
  /** Key used for pacing and logs: "METHOD pattern". */
  key: string;
}

export class Router {
  private readonly routes: Route[] = [];
  /** Exact (parameter-free) routes for a fast path. */
  private readonly exact = new Map<string, Route>();

  add(method: string, pattern: string, auth: RouteAuth, handler: Handler): void {
    const route: Route = { method, pattern, segments: pattern.split('/').filter(Boolean), auth, handler, key: `${method} ${pattern}` };
    this.routes.push(route);
    if (!pattern.includes('{')) this.exact.set(route.key, route);
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const fast = this.exact.get(`${method} ${path}`);
    if (fast) return { route: fast, params: {} };
    const segs = path.split('/').filter(Boolean);
    for (const r of this.routes) {
      if (r.method !== method || r.segments.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const p = r.segments[i]!;
        const s = segs[i]!;
        if (p.startsWith('{')) params[p.slice(1, -1)] = decodeURIComponent(s);
        else if (p !== s) { ok = false; break; }
      }
      if (ok) return { route: r, params };
    }
    return undefined;
  }

  /** True when some route has this path under another method (→ 405 rather than 404). */
  pathExists(path: string): boolean {
    const segs = path.split('/').filter(Boolean);
    return this.routes.some((r) => r.segments.length === segs.length && r.segments.every((p, i) => p.startsWith('{') || p === segs[i]));
  }
}

export function errorBody(status: number, error: string): ApiResponse {
  return { status, body: { error, statusCode: status } };
}
