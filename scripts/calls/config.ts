/**
 * The CLI's configuration, read from the environment the way the services read
 * it (same variables, same validation): where Redis (or the Redis Cluster) and
 * PostgreSQL are, the namespace of the shared keys, and how old a bridge's
 * heartbeat may be before the bridge counts as gone.
 */
import { field, parseEnv, type EnvSource } from '@voice/config';
import { BRIDGE_REGISTRY_DEFAULTS, type RedisEndpoint } from '@voice/redis';

export const CALLS_CLI_DEFAULTS = {
  /** Bridges report this often (the services' HEARTBEAT_MS default). */
  heartbeatMs: 1000,
  /** A CLI talking to an absent Redis or PostgreSQL says so after this long instead of hanging. */
  connectTimeoutMs: 5000,
  /** Two connections: a command's queries run one or two at a time. */
  databasePoolMax: 2,
} as const;

export function loadCallsConfig(env: EnvSource) {
  const e = parseEnv(
    {
      REDIS_URL: field.redisUrl(),
      REDIS_CLUSTER_NODES: field.redisClusterNodes(),
      DATABASE_URL: field.databaseUrl(),
      REDIS_NAMESPACE: field.namespace(),
      HEARTBEAT_MS: field.positiveInt(CALLS_CLI_DEFAULTS.heartbeatMs),
    },
    env,
  );
  // REDIS_CLUSTER_NODES, when set, wins over REDIS_URL (see createRedis).
  const redis: RedisEndpoint = { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES };
  return {
    redis,
    databaseUrl: e.DATABASE_URL,
    namespace: e.REDIS_NAMESPACE,
    /** A bridge whose last report is older than this is gone (as gateways judge it). */
    registryStaleMs: e.HEARTBEAT_MS * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
    connectTimeoutMs: CALLS_CLI_DEFAULTS.connectTimeoutMs,
    databasePoolMax: CALLS_CLI_DEFAULTS.databasePoolMax,
  };
}

export type CallsConfig = ReturnType<typeof loadCallsConfig>;
