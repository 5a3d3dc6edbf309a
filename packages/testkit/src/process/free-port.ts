import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports are picked below the OS's ephemeral range. A port the OS hands out for `listen(0)` comes
 * from that range, and so does the local port of every outgoing connection: in the window
 * between picking a port and the child binding it, a connection (a gateway redialing a dead
 * bridge makes several a second) could take it, and the child died with EADDRINUSE (seen in CI).
 * Below the range only another listener can take it, and picks are random.
 */
const LOWEST_PORT = 10_000;
const LINUX_EPHEMERAL_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
/** Linux's default ephemeral range starts here (used where the range cannot be read). */
const DEFAULT_EPHEMERAL_START = 32_768;
const ATTEMPTS = 50;
/**
 * Every port handed out by this process, never handed out again: the ports of one stack are picked
 * at once, and a random pick could repeat while the first child has not bound it yet.
 */
const handedOut = new Set<number>();

function ephemeralStart(): number {
  try {
    const start = Number(readFileSync(LINUX_EPHEMERAL_RANGE, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > LOWEST_PORT ? start : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START;
  }
}

/** Resolves true when `port` could be bound on every interface just now (services listen on 0.0.0.0). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/** A port free right now, outside the ephemeral range (there is still a small window before the child binds it). */
export async function freePort(): Promise<number> {
  const end = ephemeralStart();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (end - LOWEST_PORT));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found below ${end} in ${ATTEMPTS} tries`);
}
