/** Small process and socket helpers shared by the local Redis and Postgres starters. */
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { accessSync, constants } from 'node:fs';

/** Something accepts a TCP connection at host:port within timeoutMs ("answers"). */
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** host and port of a redis:// or postgres:// URL, with the scheme's default port. */
export function hostAndPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}

/** The first executable `name` in the PATH directories, or undefined. */
export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A port free right now, picked below the OS's ephemeral range so no outgoing connection can take
 * it before Redis or Postgres binds it: @voice/testkit's, from a subpath that loads nothing else, so
 * `npm test` does not load the test kit before mocha starts.
 */
export { freePort } from '@voice/testkit/free-port';
