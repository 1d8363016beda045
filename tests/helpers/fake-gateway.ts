/**
 * A stand-in for a downloaded Client Portal Gateway folder: `bin/run.sh root/conf.yaml` starts a real
 * HTTPS server as a child of the shell script (as the real run.sh starts java), which answers
 * `POST /v1/api/tickle`. Control files in the folder change its behaviour while it runs:
 *   hang      -> tickle requests get no answer (a wedged gateway)
 *   fail503   -> tickle answers 503 (IBKR trouble relayed by a live gateway)
 * Each server process writes its pid into pids/<pid> so a test can check none is left behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

const SERVER = `
import { createServer } from 'node:https';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
const root = process.cwd();
const conf = readFileSync(join(root, process.argv[2] ?? 'root/conf.yaml'), 'utf8');
const port = Number(/listenPort:\\s*(\\d+)/.exec(conf)[1]);
mkdirSync(join(root, 'pids'), { recursive: true });
writeFileSync(join(root, 'pids', String(process.pid)), '');
const server = createServer({ key: readFileSync(join(root, 'key.pem')), cert: readFileSync(join(root, 'cert.pem')) }, (req, res) => {
  if (req.url === '/v1/api/tickle' && existsSync(join(root, 'hang'))) return; // never answer
  if (req.url === '/v1/api/tickle' && existsSync(join(root, 'fail503'))) {
    res.writeHead(503, { 'content-type': 'application/json' });
    return res.end('{"error":"Service Unavailable","statusCode":503}');
  }
  if (req.url === '/v1/api/tickle') {
    res.writeHead(401, { 'content-type': 'application/json' });
    return res.end('{"error":"not authenticated","statusCode":401}');
  }
  res.writeHead(404); res.end();
});
server.listen(port, '127.0.0.1', () => console.log('fake gateway listening on ' + port));
`;

const RUN_SH = `#!/bin/bash
# Like the real run.sh: print a banner, then run the server as a child (not exec).
echo "running fake gateway with $1"
node server.mjs "$1"
echo "server exited"
`;

export interface FakeGateway {
  dir: string;
  port: number;
  baseUrl: string;
  /** Pids of every server process started so far. */
  serverPids(): number[];
}

let cachedPems: { private: string; cert: string } | undefined;

export async function createFakeGateway(port: number): Promise<FakeGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-fake-gw-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'root'));
  writeFileSync(join(dir, 'bin', 'run.sh'), RUN_SH, { mode: 0o755 });
  writeFileSync(join(dir, 'root', 'conf.yaml'), `listenPort: ${port}\nlistenSsl: true\n`);
  writeFileSync(join(dir, 'server.mjs'), SERVER);
  cachedPems ??= await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec' });
  writeFileSync(join(dir, 'key.pem'), cachedPems.private);
  writeFileSync(join(dir, 'cert.pem'), cachedPems.cert);
  return {
    dir,
    port,
    baseUrl: `https://127.0.0.1:${port}`,
    serverPids: () => {
      try {
        return readdirSync(join(dir, 'pids')).map(Number);
      } catch {
        return [];
      }
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie still answers kill(pid, 0); it is dead for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
