/**
 * The login pages served at `/` and `/sso/Login?forwardTo=22&RL=1&ip2loc=on`, with the form elements
 * a headless login (ibeam, §11 item 25) looks for: input name="username", name="password", the
 * submit button `.btn.btn-lg.xyz-button-login`, error box `.xyz-errormessage`, the live/paper switch
 * `label[for=toggle1]` + checkbox `#toggle1`, the 2FA container `#twofactbase` with input
 * `#xyz-field-bronze-response`, the push marker `.login-step-notification`, and on success the text
 * "Client login succeeds".
 *
 * Steps are separate form posts to /sso/Login (step=credentials | 2fa) so a plain HTTP client can log
 * in too; the push step refreshes itself until the push is approved (hook or auto-approve).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimCore } from './core.ts';
import type { SimUser } from './options.ts';
import { verifyTotp } from './totp.ts';

interface PendingLogin {
  user: SimUser;
  paper: boolean;
  createdAt: number;
  approved: boolean;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, extraHead = ''): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${extraHead}
<style>body{font-family:sans-serif;background:#f4f4f4}.box{max-width:360px;margin:60px auto;background:#fff;padding:24px;border-radius:6px}
.xyz-errormessage{color:#b00;min-height:1em}.hidden{display:none}input[type=text],input[type=password]{width:100%;padding:6px;margin:4px 0 12px}
.btn{padding:8px 16px}</style></head>
<body><div class="box"><h2>Interactive Brokers (simulator)</h2>${body}</div></body></html>`;
}

export class LoginPages {
  private readonly pending = new Map<string, PendingLogin>();
  private failed = 0;

  constructor(private readonly core: SimCore) {}

  isLoginPath(path: string): boolean {
    return path === '/' || path === '/sso/Login' || path === '/sso/Dispatcher' || path === '/sso/Login/status' || path === '/favicon.ico';
  }

  /** Pending push logins (for /sim/ hooks). */
  pendingPushes(): { token: string; username: string; createdAt: number; approved: boolean }[] {
    return [...this.pending.entries()].filter(([, p]) => p.user.secondFactor === 'push').map(([token, p]) => ({ token, username: p.user.username, createdAt: p.createdAt, approved: p.approved }));
  }

  approvePush(token?: string): number {
    let n = 0;
    for (const [t, p] of this.pending) {
      if (p.user.secondFactor === 'push' && (!token || t === token)) { p.approved = true; n++; }
    }
    return n;
  }

  private form(error = '', paper = false): string {
    return page('Login', `
<form id="xyz-loginform" method="post" action="/sso/Login?forwardTo=22&amp;RL=1&amp;ip2loc=on">
  <input type="hidden" name="step" value="credentials">
  <div class="xyz-errormessage${error ? '' : ' hidden'}" role="alert">${esc(error)}</div>
  <label for="xyz-field-username">Username</label>
  <input type="text" id="xyz-field-username" name="username" autocomplete="username">
  <label for="xyz-field-password">Password</label>
  <input type="password" id="xyz-field-password" name="password" autocomplete="current-password">
  <div class="xyz-paper-switch">
    <input type="checkbox" id="toggle1" name="toggle1" value="paper"${paper ? ' checked' : ''}>
    <label for="toggle1">Paper Trading</label> <span>(unchecked: Live Trading)</span>
  </div>
  <button type="submit" class="btn btn-lg xyz-button-login">Login</button>
</form>`);
  }

  private twoFactor(token: string, error = ''): string {
    return page('Second factor', `
<form method="post" action="/sso/Login?forwardTo=22&amp;RL=1&amp;ip2loc=on">
  <input type="hidden" name="step" value="2fa"><input type="hidden" name="token" value="${esc(token)}">
  <div class="xyz-errormessage${error ? '' : ' hidden'}" role="alert">${esc(error)}</div>
  <div id="twofactbase">
    <label for="xyz-field-bronze-response">Enter the code from your authenticator</label>
    <input type="text" id="xyz-field-bronze-response" name="bronzeResponse" autocomplete="one-time-code" inputmode="numeric">
  </div>
  <button type="submit" class="btn btn-lg xyz-button-login">Login</button>
</form>`);
  }

  private push(token: string): string {
    return page('Confirm on your phone', `
<div class="login-step-notification">A notification was sent to your mobile device (IB Key). Approve it to continue.</div>
<p id="sim-push-token" data-token="${esc(token)}">Waiting for approval…</p>`,
    `<meta http-equiv="refresh" content="1;url=/sso/Login/status?token=${encodeURIComponent(token)}">`);
  }

  private success(): string {
    return page('Logged in', '<p id="sim-login-success">Client login succeeds</p>');
  }

  private complete(res: ServerResponse, p: PendingLogin): void {
    this.core.session.login(p.user.username, p.paper);
    this.failed = 0;
    this.send(res, 200, this.success(), [`SBID=${randomBytes(12).toString('hex')}; Path=/; Secure; HttpOnly`, `USERID=${randomBytes(4).toString('hex')}; Path=/; Secure`]);
  }

  private send(res: ServerResponse, status: number, html: string, cookies: string[] = []): void {
    res.writeHead(status, { 'Content-Type': 'text/html;charset=utf-8', 'Cache-Control': 'no-store', ...(cookies.length ? { 'Set-Cookie': cookies } : {}) });
    res.end(html);
  }

  handle = (req: IncomingMessage, res: ServerResponse, url: URL, body: string): void => {
    const path = url.pathname;
    if (path === '/favicon.ico') { res.writeHead(404); res.end(); return; }
    if (path === '/sso/Login/status') {
      const token = url.searchParams.get('token') ?? '';
      const p = this.pending.get(token);
      if (!p) return this.send(res, 200, this.form('Login session expired, please log in again'));
      const push = p.user.push ?? 'hook';
      if (typeof push === 'number' && Date.now() - p.createdAt >= push) p.approved = true;
      if (p.approved) {
        this.pending.delete(token);
        return this.complete(res, p);
      }
      return this.send(res, 200, this.push(token));
    }
    if (req.method !== 'POST') return this.send(res, 200, path === '/sso/Dispatcher' && this.core.session.sso ? this.success() : this.form());
    const f = new URLSearchParams(body);
    const step = f.get('step') ?? 'credentials';
    if (step === '2fa') {
      const token = f.get('token') ?? '';
      const p = this.pending.get(token);
      if (!p) return this.send(res, 200, this.form('Login session expired, please log in again'));
      if (!p.user.totpSecret || !verifyTotp(p.user.totpSecret, f.get('bronzeResponse') ?? '')) {
        return this.send(res, 200, this.twoFactor(token, 'Invalid security code. Please try again.'));
      }
      this.pending.delete(token);
      return this.complete(res, p);
    }
    const username = f.get('username') ?? f.get('user_name') ?? '';
    const password = f.get('password') ?? '';
    const paper = (f.get('toggle1') ?? '') !== '';
    const user = this.core.opts.users.find((u) => u.username === username && u.password === password);
    if (!user) {
      this.failed++;
      return this.send(res, 200, this.form('Invalid username password combination', paper));
    }
    const p: PendingLogin = { user, paper, createdAt: Date.now(), approved: false };
    const mode = user.secondFactor ?? 'none';
    if (mode === 'none') return this.complete(res, p);
    const token = randomBytes(12).toString('hex');
    this.pending.set(token, p);
    if (mode === 'totp') return this.send(res, 200, this.twoFactor(token));
    return this.send(res, 200, this.push(token));
  };

  get failedAttempts(): number {
    return this.failed;
  }
}
