/**
 * A Redis client for assertions (tests read what the services wrote, over a
 * real connection), and key lookups that work on standalone Redis and on a
 * Redis Cluster alike: SCAN and KEYS see one node only, so on a cluster they
 * run on every master.
 */
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { createLogger } from '@voice/logging';
import { createRedis, isCluster, namespacePattern, readTimeline, type RedisClient } from '@voice/redis';
import { testRedisEndpoint } from './env.js';

/** Keys per SCAN round trip: big enough that a test's few hundred keys take one or two. */
const SCAN_COUNT = 500;
/** A cluster client knows its masters once it has read the slot map; it does that within a second or two. */
const CLUSTER_READY_TIMEOUT_MS = 10_000;

/** Standalone Redis at REDIS_URL, or a Cluster when REDIS_CLUSTER_NODES is set (what the services use). */
export function assertionRedis(): RedisClient {
  return createRedis({
    endpoint: testRedisEndpoint(),
    name: 'test-assertions',
    role: 'command',
    logger: createLogger({ service: 'test', instance: 'assertions', level: 'silent' }),
  });
}

export async function timelineEvents(redis: RedisClient, callSid: string): Promise<string[]> {
  return (await readTimeline(redis, callSid)).map((e) => e.event);
}

/** Every key matching a glob pattern, from every master of a cluster (sorted, no duplicates). */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const perNode = await Promise.all((await masterConnections(redis)).map((node) => scanNode(node, pattern)));
  return [...new Set(perNode.flat())].sort();
}

/** All keys of one call (hash tag {CallSid}). */
export async function callKeysPresent(redis: RedisClient, callSid: string): Promise<string[]> {
  return scanKeys(redis, `call:{${callSid}}:*`);
}

/** Deletes every shared key of a test namespace (queues, claim stream, ghosts, bridges) once its services stopped. */
export async function deleteNamespace(redis: RedisClient, namespace: string): Promise<void> {
  await Promise.all(
    (await masterConnections(redis)).map(async (node) => {
      const keys = await scanNode(node, namespacePattern(namespace));
      // Deleted on the node that holds them; they share the namespace's hash slot anyway.
      for (let i = 0; i < keys.length; i += SCAN_COUNT) await node.unlink(...keys.slice(i, i + SCAN_COUNT));
    }),
  );
}

/**
 * The connections SCAN has to visit: the client itself, or each master of a
 * cluster the client can still reach. A master that just died stays in the
 * client's pool until its next slot refresh; its keys are gone with it.
 */
async function masterConnections(redis: RedisClient): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  // Before its first slot map the client's node list is empty: a scan would find nothing and pass.
  if (redis.status !== 'ready') await once(redis, 'ready', { signal: AbortSignal.timeout(CLUSTER_READY_TIMEOUT_MS) });
  return redis
    .nodes('master')
    .filter((node) => node.status !== 'end' && node.status !== 'reconnecting' && node.status !== 'close');
}

async function scanNode(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}
