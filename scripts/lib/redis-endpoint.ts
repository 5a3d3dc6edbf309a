/**
 * Which Redis the command-line scripts talk to, read from the environment the
 * way the services read it: REDIS_URL, or REDIS_CLUSTER_NODES (seed nodes of a
 * Redis Cluster), which then wins. Plus a connection for a short-lived script.
 */
import { Cluster, Redis } from 'ioredis';
import { field, parseEnv, redactUrlPassword } from '@voice/config';
import { stopSlotRefreshesOnClose, type RedisClient, type RedisEndpoint } from '@voice/redis';

export const SCRIPT_REDIS_DEFAULTS = {
  /** A script talking to an absent Redis says so after this long instead of hanging. */
  connectTimeoutMs: 3000,
} as const;

/** Throws ConfigError naming the variable when REDIS_URL or REDIS_CLUSTER_NODES is malformed. */
export function redisEndpointFromEnv(env: NodeJS.ProcessEnv): RedisEndpoint {
  const e = parseEnv({ REDIS_URL: field.redisUrl(), REDIS_CLUSTER_NODES: field.redisClusterNodes() }, env);
  return { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES };
}

export function isClusterEndpoint(endpoint: RedisEndpoint): boolean {
  return (endpoint.clusterNodes?.length ?? 0) > 0;
}

/** `host:port,host:port` (IPv6 hosts in brackets): the REDIS_CLUSTER_NODES form of a node list. */
export function formatClusterNodes(nodes: ReadonlyArray<{ host: string; port: number }>): string {
  return nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
}

/** For messages: "Redis at redis://…" (without its password) or "the Redis Cluster at host:port,…". */
export function describeRedisEndpoint(endpoint: RedisEndpoint): string {
  return isClusterEndpoint(endpoint)
    ? `the Redis Cluster at ${formatClusterNodes(endpoint.clusterNodes!)}`
    : `Redis at ${redactUrlPassword(endpoint.url)}`;
}

/**
 * A connection for a script: `failFast` gives up on the first error instead of
 * reconnecting (a preflight check, a one-shot read); otherwise ioredis's usual
 * reconnects apply. Connected (cluster: slot map read) when the promise resolves.
 */
export async function connectScriptRedis(
  endpoint: RedisEndpoint,
  { failFast }: { failFast: boolean },
): Promise<RedisClient> {
  const connectTimeout = SCRIPT_REDIS_DEFAULTS.connectTimeoutMs;
  const noRetry = failFast ? { maxRetriesPerRequest: 0, retryStrategy: () => null } : {};
  const redis: RedisClient = isClusterEndpoint(endpoint)
    ? stopSlotRefreshesOnClose(
        new Cluster([...endpoint.clusterNodes!], {
          lazyConnect: true,
          scaleReads: 'master',
          redisOptions: { connectTimeout, ...noRetry },
          ...(failFast ? { clusterRetryStrategy: () => null } : {}),
        }),
      )
    : new Redis(endpoint.url, { lazyConnect: true, connectTimeout, ...noRetry });
  // Errors surface as rejected commands; without a listener ioredis would also print each one.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
