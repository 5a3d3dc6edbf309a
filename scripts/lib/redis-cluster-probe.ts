/**
 * Questions a test asks a Redis Cluster, answered by its nodes directly (one
 * short-lived connection per question, never through a cluster client whose
 * slot map may be stale): who the masters are, which master serves a key,
 * whether every slot is served, and when a replica has taken over.
 * Used by scripts/lib/redis-cluster.ts and by tests that only know the nodes'
 * addresses (test/e2e/redis-cluster-failover.test.ts).
 */
import { Redis } from 'ioredis';

export const CLUSTER_PROBE_DEFAULTS = {
  /** A probe of a dead node fails this fast (local nodes answer in well under a millisecond). */
  connectTimeoutMs: 1000,
  pollMs: 100,
  /** A fresh local cluster converges in a second or two. */
  settleTimeoutMs: 30_000,
  /** node-timeout (1 s) to mark the master failed, then the replica's election: a few seconds. */
  promotionTimeoutMs: 30_000,
} as const;

/** Every slot of a Redis Cluster (0..16383). */
export const CLUSTER_SLOTS = 16_384;

export interface NodeAddress {
  host: string;
  port: number;
}

export interface ClusterNodeView extends NodeAddress {
  id: string;
  role: 'master' | 'replica';
  /** Flagged `fail` (agreed dead) or `fail?` (suspected) by the node we asked. */
  failing: boolean;
  /** The id of the master a replica follows. */
  masterId: string | undefined;
  /** Slot ranges served, inclusive. */
  slots: Array<[number, number]>;
}

export class ClusterProbeError extends Error {
  override name = 'ClusterProbeError';
}

export const addressOf = (node: NodeAddress): string => `${node.host}:${node.port}`;
const sameAddress = (a: NodeAddress, b: NodeAddress) => a.port === b.port && a.host === b.host;

/** Runs `fn` on a fresh connection to one node; no retries, no reconnects. */
export async function withNode<T>(node: NodeAddress, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: node.host,
    port: node.port,
    lazyConnect: true,
    connectTimeout: CLUSTER_PROBE_DEFAULTS.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** The answer of the first node that gives one (the others may be down). */
async function askAny<T>(nodes: readonly NodeAddress[], fn: (redis: Redis) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (const node of nodes) {
    try {
      return await withNode(node, fn);
    } catch (err) {
      lastError = err;
    }
  }
  throw new ClusterProbeError(`no cluster node answered (${nodes.map(addressOf).join(', ')}): ${String(lastError)}`);
}

/** `CLUSTER NODES` as seen by the first node that answers. */
export async function clusterNodes(nodes: readonly NodeAddress[]): Promise<ClusterNodeView[]> {
  return parseClusterNodes(await askAny(nodes, async (r) => String(await r.cluster('NODES'))));
}

/** Parses `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slotFields] = line.split(' ');
      const hostPort = address.split('@')[0] ?? '';
      const colon = hostPort.lastIndexOf(':');
      const flagSet = new Set(flags.split(','));
      return {
        id,
        host: hostPort.slice(0, colon),
        port: Number(hostPort.slice(colon + 1)),
        role: flagSet.has('master') ? 'master' : 'replica',
        failing: flagSet.has('fail') || flagSet.has('fail?'),
        masterId: master === '-' ? undefined : master,
        // `[slot->-id]` / `[slot-<-id]` mark slots being migrated: not served ranges.
        slots: slotFields.filter((s) => !s.startsWith('[')).map(parseSlotRange),
      } satisfies ClusterNodeView;
    });
}

function parseSlotRange(field: string): [number, number] {
  const [from, to] = field.split('-');
  return [Number(from), Number(to ?? from)];
}

/** The masters currently serving slots. */
export async function servingMasters(nodes: readonly NodeAddress[]): Promise<ClusterNodeView[]> {
  return (await clusterNodes(nodes)).filter((n) => n.role === 'master' && !n.failing && n.slots.length > 0);
}

/** The hash slot of a key (`CLUSTER KEYSLOT`: honours `{hash tags}`). */
export async function keySlot(nodes: readonly NodeAddress[], key: string): Promise<number> {
  return Number(await askAny(nodes, (r) => r.cluster('KEYSLOT', key)));
}

/** The master that serves a key right now, from `CLUSTER KEYSLOT` and `CLUSTER SLOTS`. */
export async function masterForKey(nodes: readonly NodeAddress[], key: string): Promise<NodeAddress> {
  return askAny(nodes, async (r) => {
    const slot = Number(await r.cluster('KEYSLOT', key));
    // Each range: [first slot, last slot, [master host, port, id], ...replicas].
    const range = (await r.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
    const master = range?.[2];
    if (!master) throw new ClusterProbeError(`slot ${slot} (key ${key}) is not served by any master`);
    return { host: master[0], port: Number(master[1]) };
  });
}

/** The replica that follows a master (the node that takes over when the master dies). */
export async function replicaOf(nodes: readonly NodeAddress[], master: NodeAddress): Promise<NodeAddress> {
  const view = await clusterNodes(nodes);
  const masterNode = view.find((n) => sameAddress(n, master));
  const replica = masterNode && view.find((n) => n.masterId === masterNode.id && !n.failing);
  if (!replica) throw new ClusterProbeError(`${addressOf(master)} has no live replica`);
  return { host: replica.host, port: replica.port };
}

/** One node's view: the cluster is `ok` and all slots are served. */
async function nodeSaysOk(node: NodeAddress): Promise<boolean> {
  const info = await withNode(node, async (r) => String(await r.cluster('INFO')));
  return /^cluster_state:ok\s*$/m.test(info) && new RegExp(`^cluster_slots_ok:${CLUSTER_SLOTS}\\s*$`, 'm').test(info);
}

/** A replica has finished its first sync with its master (it could take over now). */
async function replicaInSync(node: NodeAddress): Promise<boolean> {
  const info = await withNode(node, async (r) => String(await r.info('replication')));
  return !/^role:slave\s*$/m.test(info) || /^master_link_status:up\s*$/m.test(info);
}

/** Every node says `cluster_state:ok` with every slot served, and every replica is in sync. */
export async function clusterSettled(nodes: readonly NodeAddress[]): Promise<boolean> {
  try {
    for (const node of nodes) if (!(await nodeSaysOk(node)) || !(await replicaInSync(node))) return false;
    return true;
  } catch {
    return false;
  }
}

/** Waits until `clusterSettled` holds for all the given (live) nodes. */
export async function waitForClusterSettled(
  nodes: readonly NodeAddress[],
  timeoutMs: number = CLUSTER_PROBE_DEFAULTS.settleTimeoutMs,
): Promise<void> {
  await poll(
    () => clusterSettled(nodes),
    timeoutMs,
    `cluster ${nodes.map(addressOf).join(',')} to report cluster_state:ok with all ${CLUSTER_SLOTS} slots served`,
  );
}

/**
 * Waits until `replica` is a master serving slots and every live node agrees
 * the cluster is ok again (the failed master's slots are served once more).
 */
export async function waitForPromotion(
  liveNodes: readonly NodeAddress[],
  replica: NodeAddress,
  timeoutMs: number = CLUSTER_PROBE_DEFAULTS.promotionTimeoutMs,
): Promise<void> {
  await poll(
    async () => {
      const me = (await clusterNodes([replica]).catch(() => [])).find((n) => sameAddress(n, replica));
      return me?.role === 'master' && me.slots.length > 0 && (await clusterSettled(liveNodes));
    },
    timeoutMs,
    `replica ${addressOf(replica)} to be promoted and the cluster to be ok again`,
  );
}

async function poll(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new ClusterProbeError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, CLUSTER_PROBE_DEFAULTS.pollMs));
  }
}
