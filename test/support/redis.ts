/** A plain Redis client for assertions (tests read what the services wrote, over a real connection). */
import { Redis } from 'ioredis';
import { readTimeline } from '@voice/redis';

export function assertionRedis(): Redis {
  return new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { connectionName: 'test-assertions' });
}

export async function timelineEvents(redis: Redis, callSid: string): Promise<string[]> {
  return (await readTimeline(redis, callSid)).map((e) => e.event);
}

/** All keys of one call (hash tag {CallSid}). */
export async function callKeysPresent(redis: Redis, callSid: string): Promise<string[]> {
  return (await redis.keys(`call:{${callSid}}:*`)).sort();
}

/** Deletes every shared key of a test namespace (queues, claim stream, ghosts) once its services stopped. */
export async function deleteNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
