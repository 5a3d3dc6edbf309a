/**
 * The registry of live bridges: `{ns}:bridges`, a hash with one field per
 * bridge instance. Each bridge rewrites its own field every heartbeat (where
 * its media link listens, its load and capacity, whether it is draining);
 * gateways read the whole hash about once a second to know whom to link to
 * and whether any bridge has room. A field whose `at` is older than the
 * stale limit belongs to a bridge that died; readers ignore it and, much
 * later, delete it. Per bridge that is one command per heartbeat, whatever
 * the number of calls.
 */
import { z } from 'zod';
import type { RedisClient } from './connection.js';
import type { SharedKeys } from './keys.js';

export interface BridgeInfo {
  instance: string;
  /** Where gateways reach this bridge's media link. */
  linkHost: string;
  linkPort: number;
  /** Live calls plus claims being set up. */
  load: number;
  capacity: number;
  /** Shutting down: takes no new call. */
  draining: boolean;
  /** Epoch ms of the report. */
  at: number;
}

export const BRIDGE_REGISTRY_DEFAULTS = {
  /** Missing this many heartbeats makes a bridge dead to its readers. */
  staleAfterBeats: 3,
  /** Entries of dead bridges are deleted by readers after this long (they are harmless before). */
  forgetAfterMs: 10 * 60_000,
} as const;

const bridgeInfo = z.object({
  instance: z.string().min(1),
  linkHost: z.string().min(1),
  linkPort: z.number().int().min(1).max(65535),
  load: z.number().int().nonnegative(),
  capacity: z.number().int().nonnegative(),
  draining: z.boolean(),
  at: z.number(),
});

export function hasRoom(info: BridgeInfo): boolean {
  return !info.draining && info.load < info.capacity;
}

export class BridgeRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: SharedKeys,
    /** A report older than this is a dead bridge's. */
    private readonly staleMs: number,
  ) {}

  /**
   * Writes this bridge's report. `taken`: calls it took since its last report, now in `load`; their
   * outbound room reservations (outbound-room.ts) go in the same transaction, so POST /calls never
   * sees such a call both reserved and loaded, or neither.
   */
  async publish(info: BridgeInfo, taken: readonly string[] = []): Promise<void> {
    const report = JSON.stringify(info);
    if (taken.length === 0) {
      await this.redis.hset(this.keys.bridges, info.instance, report);
      return;
    }
    const results = await this.redis
      .multi()
      .hset(this.keys.bridges, info.instance, report)
      .zrem(this.keys.outboundReserved, ...taken)
      .exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('bridge registry report aborted');
  }

  async remove(instance: string): Promise<void> {
    await this.redis.hdel(this.keys.bridges, instance);
  }

  /** Live bridges (fresh reports only). Malformed fields are skipped; long-dead ones deleted. */
  async live(now = Date.now()): Promise<BridgeInfo[]> {
    const all = await this.redis.hgetall(this.keys.bridges);
    const live: BridgeInfo[] = [];
    const forget: string[] = [];
    for (const [instance, json] of Object.entries(all)) {
      const info = parse(json);
      if (!info) continue;
      if (now - info.at <= this.staleMs) live.push(info);
      else if (now - info.at > BRIDGE_REGISTRY_DEFAULTS.forgetAfterMs) forget.push(instance);
    }
    if (forget.length > 0) await this.redis.hdel(this.keys.bridges, ...forget);
    return live;
  }

  /** Every report, fresh or stale, as stored: for on-call tools, which read and never clean up. */
  async all(): Promise<BridgeInfo[]> {
    const all = await this.redis.hgetall(this.keys.bridges);
    return Object.values(all)
      .map(parse)
      .filter((info): info is BridgeInfo => info !== undefined);
  }

  /** One bridge's fresh report, or undefined when it is unknown or dead. */
  async get(instance: string, now = Date.now()): Promise<BridgeInfo | undefined> {
    const info = parse(await this.redis.hget(this.keys.bridges, instance));
    return info && now - info.at <= this.staleMs ? info : undefined;
  }
}

function parse(json: string | null | undefined): BridgeInfo | undefined {
  if (!json) return undefined;
  try {
    const result = bridgeInfo.safeParse(JSON.parse(json));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
