import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';

/**
 * A connection to standalone Redis or to a Redis Cluster. Both speak the same
 * commands; every multi-key command in this codebase keeps its keys in one
 * hash slot (see keys.ts), so callers never need to know which one they hold.
 */
export type RedisClient = Redis | Cluster;

/** Where Redis is: `REDIS_URL`, or `REDIS_CLUSTER_NODES` (seed nodes) which then wins. */
export interface RedisEndpoint {
  url: string;
  clusterNodes?: ReadonlyArray<{ host: string; port: number }>;
}

export type RedisRole =
  /** Short commands from many callers: auto-pipelined into one round trip. */
  | 'command'
  /** One blocking reader (XREADGROUP BLOCK): never shared, never pipelined. */
  | 'blocking'
  /** Handed to BullMQ, which requires maxRetriesPerRequest: null. */
  | 'bullmq';

export interface CreateRedisOptions {
  endpoint: RedisEndpoint;
  /** Shown in CLIENT LIST, so an operator can tell which process holds which connection. */
  name: string;
  role: RedisRole;
  logger: Logger;
}

export const REDIS_CONNECTION_DEFAULTS = {
  /** Commands of the 'command' role give up after this many reconnect attempts instead of queueing forever. */
  commandRetries: 3,
  /** A cluster re-reads its slot map this often after MOVED/failover storms settle. */
  clusterSlotsRefreshMs: 2000,
  /** Reconnect attempts back off by this much more each time (ioredis' own default step). */
  reconnectStepMs: 50,
  /**
   * ...up to this. ioredis' default cap is 2 s, which after a Redis restart leaves a service up to
   * 2 s behind it; half a second against a refused port costs nothing.
   */
  reconnectMaxDelayMs: 500,
} as const;

/** Opens a connection configured for its role, with errors logged instead of thrown at random. */
export function createRedis({ endpoint, name, role, logger }: CreateRedisOptions): RedisClient {
  const options: RedisOptions = {
    connectionName: name.replace(/[^\w.:-]/g, '_'),
    enableAutoPipelining: role === 'command',
    maxRetriesPerRequest: role === 'command' ? REDIS_CONNECTION_DEFAULTS.commandRetries : null,
    retryStrategy: (times) =>
      Math.min(times * REDIS_CONNECTION_DEFAULTS.reconnectStepMs, REDIS_CONNECTION_DEFAULTS.reconnectMaxDelayMs),
  };
  const redis = endpoint.clusterNodes?.length
    ? stopSlotRefreshesOnClose(new Cluster([...endpoint.clusterNodes], clusterOptions(options, role)))
    : new Redis(endpoint.url, options);
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

function clusterOptions(redisOptions: RedisOptions, role: RedisRole): ClusterOptions {
  return {
    redisOptions: { ...redisOptions, enableAutoPipelining: false },
    // Auto-pipelining is a cluster-level option: it groups commands per node.
    enableAutoPipelining: role === 'command',
    // Replicas are for failover here, not reads: a call's state must be read where it was written.
    scaleReads: 'master',
    slotsRefreshInterval: REDIS_CONNECTION_DEFAULTS.clusterSlotsRefreshMs,
    maxRedirections: 16,
    // During a failover the cluster answers CLUSTERDOWN for a moment: retry instead of failing the command.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 100,
  };
}

/** The ioredis Cluster internals the guard below wraps (ioredis 5.11). */
interface SlotRefresher {
  refreshSlotsCache(callback?: (err?: Error) => void): void;
}

/**
 * ioredis 5.11: a periodic slots refresh that is under way when the cluster is closed
 * schedules the next round when it completes, and a closed cluster has no nodes to ask,
 * so every round fails at once and schedules another: a timer every
 * clusterSlotsRefreshMs for ever, which keeps a process that closed everything from
 * exiting (test:cluster hung after its last test that way: a failover makes refreshes
 * slow, so one was under way when the clients closed). The cluster's status does not
 * tell (it can stay `close`), so the guard remembers the close itself: once quit() or
 * disconnect() was called, refreshes do nothing and the rounds stop; connect() again
 * lifts it. Duplicates (BullMQ makes its blocking connection with `duplicate()`) get the
 * same guard.
 */
export function stopSlotRefreshesOnClose(cluster: Cluster): Cluster {
  const internals = cluster as unknown as SlotRefresher;
  let closed = false;
  const refresh = internals.refreshSlotsCache.bind(cluster);
  internals.refreshSlotsCache = (callback) => {
    if (!closed) refresh(callback);
  };
  const quit = cluster.quit.bind(cluster);
  cluster.quit = ((...args: Parameters<Cluster['quit']>) => {
    closed = true;
    return quit(...args);
  }) as Cluster['quit'];
  const disconnect = cluster.disconnect.bind(cluster);
  cluster.disconnect = (reconnect = false) => {
    // ioredis itself calls disconnect(true) to reconnect: that is not a close.
    if (!reconnect) closed = true;
    disconnect(reconnect);
  };
  const connect = cluster.connect.bind(cluster);
  cluster.connect = () => {
    closed = false;
    return connect();
  };
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args: Parameters<Cluster['duplicate']>) => stopSlotRefreshesOnClose(duplicate(...args));
  return cluster;
}

/** True when the client is a Redis Cluster connection. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/** Closes a connection without throwing when it is already closed. */
export async function quitRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
