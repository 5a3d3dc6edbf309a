/**
 * Before the demo or the bench starts anything: are Redis and Postgres there?
 * One clear line each when they are not, instead of a stack trace from deep inside.
 */
import { createDatabase, describeDatabaseFailure, migrateLatest, seedDemoBusiness } from '@voice/db';
import { DEFAULT_DATABASE_URL } from '@voice/config';
import { isCluster, type RedisEndpoint } from '@voice/redis';
import {
  connectScriptRedis,
  describeRedisEndpoint,
  isClusterEndpoint,
  redisEndpointFromEnv,
} from './redis-endpoint.js';

export class PreflightError extends Error {
  override name = 'PreflightError';
}

export interface Endpoints {
  /** REDIS_URL, or the cluster at REDIS_CLUSTER_NODES when that is set. */
  redis: RedisEndpoint;
  databaseUrl: string;
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv): Endpoints {
  return { redis: redisEndpointFromEnv(env), databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL };
}

/** Redis answers; a cluster also says every slot is served (cluster_state:ok). */
export async function checkRedis(endpoint: RedisEndpoint): Promise<void> {
  const where = describeRedisEndpoint(endpoint);
  const hint = isClusterEndpoint(endpoint) ? 'set REDIS_CLUSTER_NODES to its nodes' : 'redis-server, or set REDIS_URL';
  let redis;
  try {
    redis = await connectScriptRedis(endpoint, { failFast: true });
    await redis.ping();
  } catch (err) {
    redis?.disconnect();
    throw new PreflightError(`cannot reach ${where}: ${(err as Error).message}. Is it running? (${hint})`);
  }
  try {
    if (isCluster(redis)) {
      const info = String(await redis.cluster('INFO'));
      if (!/^cluster_state:ok\s*$/m.test(info))
        throw new PreflightError(
          `${where} is not healthy (CLUSTER INFO: ${firstLine(info, 'cluster_state')}); wait for it to settle or fix its slots`,
        );
    }
  } finally {
    redis.disconnect();
  }
}

function firstLine(text: string, prefix: string): string {
  return (
    text
      .split(/\r?\n/)
      .find((line) => line.startsWith(prefix))
      ?.trim() ?? 'no answer'
  );
}

/** Migrates and seeds the demo business (both idempotent). */
export async function prepareDatabase(url: string): Promise<void> {
  const knex = createDatabase(url);
  try {
    await knex.raw('select 1');
    await migrateLatest(knex);
    await seedDemoBusiness(knex);
  } catch (err) {
    throw new PreflightError(describeDatabaseFailure('demo', url, err));
  } finally {
    await knex.destroy();
  }
}
