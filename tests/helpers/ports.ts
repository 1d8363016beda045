/**
 * Ports for tests that must name a port before its server starts (a gateway's root/conf.yaml names
 * the port it listens on, and a restarted gateway listens on the same one again).
 *
 * Why not "a port that was free a moment ago" from `listen(0)`: such a port comes from the kernel's
 * ephemeral range, the range it also hands to every outgoing connection and every other `listen(0)`
 * on the machine. On a busy machine, in the seconds between the check and the server's `listen`
 * (a tsx start-up under load takes tens of seconds), or while a gateway is down between two of its
 * runs, another test's connection or server can take it: the server then fails with EADDRINUSE, or
 * a test talks to somebody else's server. Ports below the ephemeral range are never handed out by
 * the kernel, so only a test that names the same number could collide, and each test worker draws
 * its numbers in order from a random start.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2_048 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const LOW = 10_000;
const HIGH = Math.max(LOW + 1_000, ephemeralLow());
/** Where this worker starts drawing: a random start keeps parallel test workers apart. */
let next = LOW + randomInt(HIGH - LOW);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port on 127.0.0.1 below the ephemeral range that nothing listens on now: for a server that a
 * test starts on a port it names (and restarts on it), or for a URL where nothing answers.
 */
export async function fixedPort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = next;
    next = next + 1 >= HIGH ? LOW : next + 1;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 tries`);
}
