/**
 * The gateway simulator: a stand-alone HTTPS + WSS server that speaks the Client Portal Web API
 * (written from docs/simulator.md's reference facts, importing nothing from the client).
 *
 *   const sim = await startSimulator({ seed: 7, authenticated: true, profile: 'ideal' });
 *   // sim.url === 'https://127.0.0.1:PORT'; API at `${sim.url}/v1/api`, hooks at `${sim.url}/sim/...`
 *   await sim.close();
 */
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SimCore } from './core.ts';
import { createHooks } from './hooks.ts';
import { LoginPages } from './login-page.ts';
import { resolveOptions, type SimOptions } from './options.ts';
import { buildRouter } from './routes/index.ts';
import { createSimServer } from './server.ts';
import { selfSignedPair } from './tls.ts';
import { WsHub } from './ws.ts';
import { createConsumer, type IssuedAccessToken } from './oauth/consumer.ts';
import { OAuthGate } from './oauth/gate.ts';

export type { SimOptions, RealismFlags, SimUser, PacingOptions } from './options.ts';
export { REALISTIC, IDEAL, DEFAULT_USERS } from './options.ts';
export { totpCode } from './totp.ts';
export { issueAccessToken, readUploadedKeys, type SimOAuthSetup, type IssuedAccessToken } from './oauth/consumer.ts';
export { parseFaultSpec } from './faults.ts';

export interface RunningSimulator {
  /** https://127.0.0.1:PORT */
  url: string;
  port: number;
  /** `${url}/v1/api` */
  apiUrl: string;
  /** wss://127.0.0.1:PORT/v1/api/ws */
  wsUrl: string;
  /** The simulator's state, for in-process tests (prefer the /sim/ hooks from other processes). */
  core: SimCore;
  /** PEM of the certificate served (self-signed unless given). */
  certPem: string;
  accounts: { paper: string; live: string };
  /** OAuth mode: the front door and the access token issued to the consumer (what goes into .env). */
  oauth?: { gate: OAuthGate; issued: IssuedAccessToken; consumerKey: string; realm: string };
  close(): Promise<void>;
}

export async function startSimulator(options: SimOptions = {}): Promise<RunningSimulator> {
  const opts = resolveOptions(options);
  const tls = opts.tls ?? (await selfSignedPair(options.freshCertificate === true));
  const core = new SimCore(opts);
  const router = buildRouter(core);
  const login = new LoginPages(core);
  const hooks = createHooks(core, login);
  const oauth = options.oauth ? createConsumer(options.oauth) : undefined;
  const gate = oauth ? new OAuthGate(core, oauth.consumer) : undefined;
  const { server, sockets } = createSimServer({ core, router, hooks, login: login.handle, isLoginPath: (p) => login.isLoginPath(p), cert: tls.cert, key: tls.key, ...(gate ? { oauth: gate } : {}) });
  const hub = new WsHub(core, gate);
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    if (path === '/v1/api/ws' || path === '/v1/portal/ws') hub.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await listen(server, opts.port);
  core.start();
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  let closed = false;
  return {
    url, port, apiUrl: `${url}/v1/api`, wsUrl: `wss://127.0.0.1:${port}/v1/api/ws`, core, certPem: tls.cert,
    accounts: { paper: opts.paperAccount.id, live: opts.liveAccount.id },
    ...(gate && oauth ? { oauth: { gate, issued: oauth.issued, consumerKey: oauth.consumer.consumerKey, realm: oauth.consumer.realm } } : {}),
    async close() {
      if (closed) return;
      closed = true;
      core.stop();
      hub.close();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await done;
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
