/**
 * The CLI's connections: Redis (standalone or Cluster, through @voice/redis's
 * factory, as the services connect) and PostgreSQL. Described for messages by
 * host and port only: a connection URL may carry a password.
 */
import { once } from 'node:events';
import type { Knex } from 'knex';
import { cliKnexLog, createDatabase } from '@voice/db';
import { createLogger } from '@voice/logging';
import { createRedis, quitRedis, type RedisClient, type RedisEndpoint } from '@voice/redis';
import type { CallsConfig } from './config.js';
import { oneLine, UnreachableError } from './errors.js';

export interface Connections {
  redis: RedisClient;
  knex: Knex;
  /** "PostgreSQL at host:port/db", for messages. */
  postgresWhere: string;
  close(): Promise<void>;
}

export function describeRedis(endpoint: RedisEndpoint): string {
  if (endpoint.clusterNodes?.length)
    return `the Redis Cluster at ${endpoint.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const url = new URL(endpoint.url);
    return `Redis at ${url.host}${url.pathname.length > 1 ? url.pathname : ''}`;
  } catch {
    return 'Redis at REDIS_URL';
  }
}

export function describePostgres(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `PostgreSQL at ${url.host}${url.pathname}`;
  } catch {
    return 'PostgreSQL at DATABASE_URL';
  }
}

/** Redis connected (a cluster: its slot map read) before any command, or one clear error. */
async function connectRedis(config: CallsConfig): Promise<RedisClient> {
  const redis = createRedis({
    endpoint: config.redis,
    name: 'calls-cli',
    role: 'command',
    // Connection errors become the command's one error line, not log lines.
    logger: createLogger({ service: 'calls-cli', instance: 'cli', level: 'silent' }),
  });
  if (redis.status === 'ready') return redis;
  try {
    await once(redis, 'ready', { signal: AbortSignal.timeout(config.connectTimeoutMs) });
    return redis;
  } catch (err) {
    redis.disconnect();
    const why =
      err instanceof Error && err.name === 'AbortError'
        ? `no answer within ${config.connectTimeoutMs} ms`
        : oneLine(err);
    throw new UnreachableError(`cannot reach ${describeRedis(config.redis)}: ${why}`);
  }
}

export async function openConnections(config: CallsConfig): Promise<Connections> {
  const redis = await connectRedis(config);
  // Connects lazily, on the first query; commands that need no row never open a connection.
  const knex = createDatabase(config.databaseUrl, {
    applicationName: 'voice-calls-cli',
    poolMax: config.databasePoolMax,
    connectTimeoutMs: config.connectTimeoutMs,
    acquireTimeoutMs: config.connectTimeoutMs,
    log: cliKnexLog,
  });
  return {
    redis,
    knex,
    postgresWhere: describePostgres(config.databaseUrl),
    async close() {
      await Promise.allSettled([quitRedis(redis), knex.destroy()]);
    },
  };
}
