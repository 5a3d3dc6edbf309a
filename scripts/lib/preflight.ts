/**
 * Before the demo or the bench starts anything: are Redis and Postgres there?
 * One clear line each when they are not, instead of a stack trace from deep inside.
 */
import { Redis } from 'ioredis';
import { createDatabase, describeDatabaseFailure, migrateLatest, seedDemoBusiness } from '@voice/db';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '@voice/config';

const CONNECT_TIMEOUT_MS = 3000;

export class PreflightError extends Error {
  override name = 'PreflightError';
}

export interface Endpoints {
  redisUrl: string;
  databaseUrl: string;
}

export function endpointsFromEnv(env: NodeJS.ProcessEnv): Endpoints {
  return { redisUrl: env.REDIS_URL || DEFAULT_REDIS_URL, databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL };
}

export async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new PreflightError(`cannot reach Redis at ${url}: ${(err as Error).message}. Is it running? (redis-server, or set REDIS_URL)`);
  } finally {
    redis.disconnect();
  }
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
