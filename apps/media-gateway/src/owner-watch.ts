/**
 * Notices live calls whose bridge died after START. Every OWNER_CHECK_MS the
 * owners of this gateway's started calls are read (one pipeline), then their
 * heartbeats (another). A call with no owner, or an owner whose heartbeat has
 * expired, is announced again (a fresh inbound `start` entry and a claim), so
 * a live bridge takes it over (`call.orphaned` on the timeline).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { callKeys, type SharedKeys } from '@voice/redis';
import type { Counter } from 'prom-client';

export interface WatchedCall {
  /** Epoch ms START was accepted: a call is given one check interval to get its first owner. */
  startedAt: number;
  /** Publishes the call again (inbound start entry + claim); `previousOwner` is null when none is recorded. */
  reannounce(previousOwner: string | null): void;
}

export class OwnerWatch {
  private readonly calls = new Map<string, WatchedCall & { lastAnnouncedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: SharedKeys,
    private readonly intervalMs: number,
    private readonly orphaned: Counter,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.calls.clear();
  }

  watch(callSid: string, call: WatchedCall): void {
    this.calls.set(callSid, { ...call, lastAnnouncedAt: call.startedAt });
  }

  unwatch(callSid: string): void {
    this.calls.delete(callSid);
  }

  private async getAll(keys: string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.get(key);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => (err ? null : (value as string | null)));
  }

  private async check(): Promise<void> {
    if (this.checking || this.calls.size === 0) return;
    this.checking = true;
    try {
      const now = Date.now();
      // A claim takes milliseconds; one interval after the last announcement an owner must exist.
      const due = [...this.calls].filter(([, c]) => now - c.lastAnnouncedAt >= this.intervalMs);
      if (due.length === 0) return;
      // Pipelined GETs rather than MGET: each call's key lives in its own hash slot on a cluster.
      const owners = await this.getAll(due.map(([callSid]) => callKeys.owner(callSid)));
      const named = [...new Set(owners.filter((o): o is string => o !== null))];
      const alive = await this.getAll(named.map((o) => this.keys.bridgeAlive(o)));
      const dead = new Set(named.filter((_, i) => alive[i] === null));
      due.forEach(([callSid, call], i) => {
        const owner = owners[i] ?? null;
        if (owner !== null && !dead.has(owner)) return;
        if (!this.calls.has(callSid)) return; // ended while we were checking
        call.lastAnnouncedAt = now;
        this.orphaned.inc();
        call.reannounce(owner);
      });
    } catch (err) {
      this.logger.error('owner check failed', errorFields(err));
    } finally {
      this.checking = false;
    }
  }
}
