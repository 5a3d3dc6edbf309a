/**
 * A Redis server of the bench's own (127.0.0.1, a free port, no persistence),
 * so its command counts, memory and CPU are the bench calls' alone: a shared
 * development Redis also serves whatever tests run meanwhile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { freePort } from '@voice/testkit';

const REDIS_SERVER = 'redis-server';
const READY_TIMEOUT_MS = 5000;
const READY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 5000;

export interface PrivateRedis {
  url: string;
  port: number;
  pid: number;
  running(): boolean;
  stop(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `password`: the server requires it (requirepass), and `url` carries it, as a production REDIS_URL would.
 * `port`: start on that port (a restart of a server stopped before, as Redis restarting empty).
 */
export async function startPrivateRedis(opts: { password?: string; port?: number } = {}): Promise<PrivateRedis> {
  const port = opts.port ?? (await freePort());
  const auth = opts.password === undefined ? [] : ['--requirepass', opts.password];
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...auth,
    ],
    { stdio: 'ignore' },
  );
  const url =
    opts.password === undefined
      ? `redis://127.0.0.1:${port}`
      : `redis://:${encodeURIComponent(opts.password)}@127.0.0.1:${port}`;
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return { url, port, pid: child.pid ?? 0, running, stop };
    } catch (err) {
      if (performance.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`redis-server on port ${port} did not start: ${(err as Error).message}`);
      }
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}
