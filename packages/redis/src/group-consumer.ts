/**
 * A consumer-group loop in the style of trigger.dev's Redis workers: the group
 * is created with MKSTREAM (BUSYGROUP ignored), a dedicated connection does the
 * blocking reads, entries are acked only after the handler succeeded, entries
 * left pending by a dead consumer are taken over with XAUTOCLAIM, and errors
 * back off instead of spinning.
 *
 * Admission: with `room()`, the consumer asks for no more entries than it has
 * room for, and reads nothing while it is full, so a full bridge never takes
 * another call; the entries stay in the stream for a consumer with room.
 * `wake()` says room has opened up.
 */
import type { RedisClient } from './connection.js';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { RawStreamEntry } from './stream-entry.js';

export const GROUP_CONSUMER_DEFAULTS = {
  blockMs: 2000,
  count: 10,
  /** A pending entry idle this long belongs to a consumer that died: take it over. */
  claimIdleMs: 15_000,
  claimIntervalMs: 5000,
  /** After this many deliveries an entry is dead-lettered (logged and acked). */
  maxDeliveries: 5,
  errorBackoffMs: 500,
} as const;

export type GroupHandler = (id: string, fields: string[]) => Promise<void>;

export interface GroupConsumerOptions {
  /** A dedicated connection for the blocking read; stop() disconnects it (the way to break a BLOCK on a cluster too). */
  blocking: RedisClient;
  commands: RedisClient;
  logger: Logger;
  stream: string;
  group: string;
  consumer: string;
  handler: GroupHandler;
  blockMs?: number;
  count?: number;
  claimIdleMs?: number;
  claimIntervalMs?: number;
  maxDeliveries?: number;
  /** How many more entries this consumer may take now (omitted: no limit beyond `count`). */
  room?: () => number;
}

export class GroupConsumer {
  private running = false;
  private loop: Promise<void> | undefined;
  private lastClaimAt = 0;
  private roomWaiter: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: GroupConsumerOptions) {}

  async start(): Promise<void> {
    if (this.running) return;
    await ensureGroup(this.options.commands, this.options.stream, this.options.group);
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading; waits for handlers already running. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    // The blocking connection is this consumer's alone: cutting it ends the BLOCK at once.
    this.options.blocking.disconnect();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Room has opened up (a call ended): read again now rather than at the next poll. */
  wake(): void {
    const waiter = this.roomWaiter;
    this.roomWaiter = undefined;
    waiter?.();
  }

  private room(): number {
    const o = this.options;
    const count = o.count ?? GROUP_CONSUMER_DEFAULTS.count;
    return o.room ? Math.min(count, o.room()) : count;
  }

  private waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), this.options.blockMs ?? GROUP_CONSUMER_DEFAULTS.blockMs);
      this.roomWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const o = this.options;
    while (this.running) {
      try {
        if (this.room() <= 0) {
          await this.waitForRoom();
          continue;
        }
        await this.reclaimStale();
        const count = this.room();
        if (count <= 0) continue;
        const result = (await o.blocking.xreadgroup(
          'GROUP',
          o.group,
          o.consumer,
          'COUNT',
          count,
          'BLOCK',
          o.blockMs ?? GROUP_CONSUMER_DEFAULTS.blockMs,
          'STREAMS',
          o.stream,
          '>',
        )) as [string, RawStreamEntry[]][] | null;
        if (!result) continue;
        for (const [, entries] of result) for (const [id, fields] of entries) this.dispatch(id, fields);
      } catch (err) {
        if (!this.running) break;
        if (String(err).includes('NOGROUP')) {
          // Someone deleted the stream (e.g. FLUSHDB in a dev box): recreate and go on.
          await ensureGroup(o.commands, o.stream, o.group).catch(() => undefined);
        }
        o.logger.error('group consumer read failed', { stream: o.stream, ...errorFields(err) });
        await sleep(GROUP_CONSUMER_DEFAULTS.errorBackoffMs);
      }
    }
  }

  /** Handlers run concurrently: one slow call setup must not hold up the next claim. */
  private dispatch(id: string, fields: string[]): void {
    const o = this.options;
    const task = o
      .handler(id, fields)
      .then(() => o.commands.xack(o.stream, o.group, id))
      .then(() => undefined)
      .catch((err: unknown) => {
        // Not acked: it stays pending and is retried through XAUTOCLAIM.
        o.logger.error('group handler failed; entry left pending', { stream: o.stream, id, ...errorFields(err) });
      })
      .finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  private async reclaimStale(): Promise<void> {
    const o = this.options;
    const now = Date.now();
    if (now - this.lastClaimAt < (o.claimIntervalMs ?? GROUP_CONSUMER_DEFAULTS.claimIntervalMs)) return;
    this.lastClaimAt = now;
    const count = this.room();
    if (count <= 0) return;
    const [, entries] = (await o.commands.xautoclaim(
      o.stream,
      o.group,
      o.consumer,
      o.claimIdleMs ?? GROUP_CONSUMER_DEFAULTS.claimIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, RawStreamEntry[], string[]?];
    if (entries.length === 0) return;
    const maxDeliveries = o.maxDeliveries ?? GROUP_CONSUMER_DEFAULTS.maxDeliveries;
    const pending = (await o.commands.xpending(
      o.stream,
      o.group,
      entries[0]![0],
      entries[entries.length - 1]![0],
      entries.length,
      o.consumer,
    )) as [string, string, number, number][];
    const deliveries = new Map(pending.map(([id, , , count]) => [id, count]));
    for (const [id, fields] of entries) {
      if (!fields) continue; // deleted meanwhile
      if ((deliveries.get(id) ?? 0) > maxDeliveries) {
        o.logger.error('dead-lettering stream entry after repeated failures', { stream: o.stream, id });
        await o.commands.xack(o.stream, o.group, id);
        continue;
      }
      o.logger.warn('reclaimed stale stream entry', { stream: o.stream, id });
      this.dispatch(id, fields);
    }
  }
}

export async function ensureGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    // '$' would skip claims written before the first bridge ever started; '0' plus the
    // handler's age check is the safe choice.
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String(err).includes('BUSYGROUP')) throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
