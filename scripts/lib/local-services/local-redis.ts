/**
 * A throwaway redis-server for one run: the one on PATH (no npm package ships
 * Redis), on a free port of 127.0.0.1, persistence off, files in the run's
 * temp dir. Answers PING when startLocalRedis resolves.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay, freePort, tcpAnswers } from './tcp.js';
import { LocalServiceError, type LocalProcess } from './local-process.js';

export const LOCAL_REDIS_DEFAULTS = {
  host: '127.0.0.1',
  startTimeoutMs: 10_000,
  pollMs: 25,
  probeTimeoutMs: 250,
  logTailLines: 10,
} as const;

/** The line printed when there is no redis-server to start. */
export const REDIS_INSTALL_HINT =
  'install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL';

export async function startLocalRedis(redisServer: string, root: string): Promise<LocalProcess> {
  const d = LOCAL_REDIS_DEFAULTS;
  const dir = join(root, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = join(dir, 'redis.log');
  const child = spawn(
    redisServer,
    ['--port', String(port), '--bind', d.host, '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', logFile],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const deadline = Date.now() + d.startTimeoutMs;
  while (!(await tcpAnswers(d.host, port, d.probeTimeoutMs))) {
    if (!running() || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LocalServiceError(`${redisServer} on port ${port} did not start: ${logTail(logFile)}`);
    }
    await delay(d.pollMs);
  }
  return {
    url: `redis://${d.host}:${port}`,
    pid: child.pid!,
    killNow: () => {
      if (running()) child.kill('SIGKILL');
    },
    stop: async () => {
      if (running()) child.kill('SIGTERM');
      await exited;
    },
  };
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-LOCAL_REDIS_DEFAULTS.logTailLines).join(' | ');
  } catch {
    return '(no log written)';
  }
}
