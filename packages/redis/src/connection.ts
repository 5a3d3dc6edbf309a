import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';

export type RedisRole =
  /** Short commands from many callers: auto-pipelined into one round trip. */
  | 'command'
  /** One blocking reader (XREAD BLOCK): never shared, never pipelined. */
  | 'blocking'
  /** Handed to BullMQ, which requires maxRetriesPerRequest: null. */
  | 'bullmq';

export interface CreateRedisOptions {
  url: string;
  /** Shown in CLIENT LIST, so an operator can tell which process holds which connection. */
  name: string;
  role: RedisRole;
  logger: Logger;
}

/** Opens a Redis connection configured for its role, with errors logged instead of thrown at random. */
export function createRedis({ url, name, role, logger }: CreateRedisOptions): Redis {
  const options: RedisOptions = {
    connectionName: name.replace(/[^\w.:-]/g, '_'),
    enableAutoPipelining: role === 'command',
    maxRetriesPerRequest: role === 'command' ? 3 : null,
  };
  const redis = new Redis(url, options);
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis repeats the same error on every reconnect attempt; log each distinct one once.
    if (err.message === lastError) return;
    lastError = err.message;
    logger.error('redis connection error', { connection: name, ...errorFields(err) });
  });
  redis.on('ready', () => {
    lastError = '';
  });
  return redis;
}

/** Closes a connection without throwing when it is already closed. */
export async function quitRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
