import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { RedisClient } from './connection.js';
import { callKeys } from './keys.js';
import { OutageBuffer } from './outage-buffer.js';
import { RecentSet } from './recent-set.js';
import type { TimelineEventName } from './timeline-events.js';

export type TimelineFieldValue = string | number | boolean | null | undefined;
export type TimelineFields = Record<string, TimelineFieldValue>;

export const TIMELINE_DEFAULTS = {
  /** Plenty for one call; bounds a runaway writer. */
  maxLen: 2000,
  /** On-call engineers look at yesterday's calls; Redis is not the archive (Postgres is). */
  ttlSeconds: 7 * 24 * 3600,
  /**
   * How many calls this process remembers having given their timeline a TTL.
   * Far more than the calls one process sees in the minutes a call lasts; a
   * forgotten call only costs one more EXPIRE if it writes again.
   */
  expiredCallsRemembered: 10_000,
  /**
   * Entries kept in memory while Redis cannot be reached, across all calls of the process (a few
   * per call-second; a few hundred bytes each): a restart of some seconds loses nothing, a long
   * outage costs at most this many entries of memory and the oldest are counted as lost.
   */
  outageBufferMax: 5000,
} as const;

export interface TimelineOptions {
  redis: RedisClient;
  app: string;
  instance: string;
  logger: Logger;
  maxLen?: number;
  ttlSeconds?: number;
  expiredCallsRemembered?: number;
  outageBufferMax?: number;
  /** Told how many entries wait for Redis and how many were dropped (services count them as metrics). */
  observer?: TimelineObserver;
}

export interface TimelineObserver {
  buffered(size: number): void;
  lost(count: number): void;
}

export interface TimelineEntry {
  id: string;
  event: string;
  app: string;
  instance: string;
  ts: number;
  fields: Record<string, string>;
}

/**
 * Writes a call's lifecycle checkpoints to `call:{CA}:timeline` (flat string
 * fields, readable with plain redis-cli) and the same checkpoint as one
 * structured log line. A failed write is logged, never thrown: the timeline
 * must not be the reason a call drops.
 *
 * One event is one XADD. The TTL is set by an EXPIRE only on this process's
 * first write to a call's timeline (not a MULTI/XADD/EXPIRE/EXEC per event,
 * four commands). Every process that writes a call's timeline sets the TTL
 * once, so the key expires `ttlSeconds` after the last writer's first event:
 * calls last minutes, the TTL is days.
 *
 * While Redis cannot be reached (the connection is not ready, or a write failed), entries wait in
 * a bounded buffer and are written, in order and with their original `ts`, when the connection is
 * ready again; entries that overflowed it are reported per call as `timeline.lost`. Meanwhile new
 * entries queue behind the buffered ones, so the stream keeps the order they happened in.
 */
export class Timeline {
  private readonly maxLen: number;
  private readonly ttlSeconds: number;
  /** CallSids whose timeline this process has already given a TTL. */
  private expired: RecentSet<string>;
  private readonly buffer: OutageBuffer;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  /** Writes sent and not yet answered (callers often do not await record()). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Before the first connection, commands wait in ioredis' offline queue as usual; after it, a lost connection means an outage. */
  private connectedOnce: boolean;

  constructor(private readonly options: TimelineOptions) {
    this.maxLen = options.maxLen ?? TIMELINE_DEFAULTS.maxLen;
    this.ttlSeconds = options.ttlSeconds ?? TIMELINE_DEFAULTS.ttlSeconds;
    this.expired = this.newExpiredSet();
    this.buffer = new OutageBuffer(options.outageBufferMax ?? TIMELINE_DEFAULTS.outageBufferMax);
    this.connectedOnce = options.redis.status === 'ready';
    options.redis.on('ready', () => {
      this.connectedOnce = true;
      // Redis may have restarted empty: the timelines this process gave a TTL may be new keys now.
      this.expired = this.newExpiredSet();
      void this.flush();
    });
  }

  /** Entries waiting for Redis to come back. */
  get buffered(): number {
    return this.buffer.size;
  }

  async record(
    callSid: string,
    event: TimelineEventName,
    fields: TimelineFields = {},
    opts: { ts?: number; level?: 'info' | 'warn' | 'error'; logger?: Logger } = {},
  ): Promise<void> {
    const ts = opts.ts ?? Date.now();
    const flat = flatten(fields);
    const log = opts.logger ?? this.options.logger.child({ callSid });
    log.log(opts.level ?? 'info', event, { event, ...fields });
    const args: string[] = [
      'event',
      event,
      'app',
      this.options.app,
      'instance',
      this.options.instance,
      'ts',
      String(ts),
    ];
    for (const [k, v] of Object.entries(flat)) args.push(k, v);
    const entry = { callSid, fields: args };
    // Behind entries still waiting, or with no connection to send on: keep it for the flush.
    if (!this.buffer.empty || this.unreachable()) return this.keep(entry, log);
    const written = this.write(callSid, args);
    this.inFlight.add(written);
    try {
      await written;
    } catch (err) {
      log.warn('timeline write failed; kept until redis is back', { event, ...errorFields(err) });
      this.keep(entry, log);
    } finally {
      this.inFlight.delete(written);
    }
  }

  /**
   * Resolves once every write sent so far has been answered (or failed into the outage buffer)
   * and a flush under way is done. A service awaits it before it quits Redis: on a Cluster a
   * node's connection may still be opening, and quitting then drops the entries queued on it
   * (a bridge's last `bridge.released` at shutdown went missing that way).
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight, this.flushing]);
  }

  private unreachable(): boolean {
    return this.connectedOnce && this.options.redis.status !== 'ready';
  }

  /** One XADD, plus the EXPIRE on this process's first write to the call's timeline. Throws when Redis does. */
  private async write(callSid: string, args: string[]): Promise<void> {
    const key = callKeys.timeline(callSid);
    // Marked before the write so concurrent first events of one call send one EXPIRE, not several.
    const needsTtl = !this.expired.has(callSid);
    if (needsTtl) this.expired.add(callSid);
    try {
      const redis = this.options.redis;
      const added = redis.xadd(key, 'MAXLEN', '~', String(this.maxLen), '*', ...args);
      if (!needsTtl) {
        await added;
        return;
      }
      // Sent in the same tick, behind the XADD, on the connection (or cluster node) that owns the
      // key: it finds the stream, and with auto-pipelining both travel in one round trip.
      const [, ttlSet] = await Promise.all([added, redis.expire(key, this.ttlSeconds)]);
      // 0: the key did not exist yet (a cluster redirect reordered the two); try again on the next event.
      if (ttlSet === 0) this.expired.delete(callSid);
    } catch (err) {
      if (needsTtl) this.expired.delete(callSid);
      throw err;
    }
  }

  private keep(entry: { callSid: string; fields: string[] }, log: Logger): void {
    if (this.buffer.size === 0)
      log.warn('redis unreachable; timeline entries kept until it is back', { event: entry.fields[1] });
    const before = this.buffer.size;
    this.buffer.push(entry);
    // Full: the push dropped the oldest entry.
    if (this.buffer.size === before) this.options.observer?.lost(1);
    this.options.observer?.buffered(this.buffer.size);
    // The connection may be ready already (a single failed write): try now rather than at the next 'ready'.
    if (this.options.redis.status === 'ready') void this.flush();
  }

  /** Writes what was kept, oldest first; stops at the first failure and waits for the next 'ready'. */
  private flush(): Promise<void> {
    if (this.flushing) {
      // The flush under way may already have failed on an entry before this one: try once more after it.
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      const kept = this.buffer.size;
      try {
        for (let next = this.buffer.peek(); next; next = this.buffer.peek()) {
          await this.write(next.callSid, next.fields);
          this.buffer.shift();
          this.options.observer?.buffered(this.buffer.size);
        }
        await this.reportLost();
        if (kept > 0) this.options.logger.info('timeline entries written after redis came back', { entries: kept });
      } catch (err) {
        this.options.logger.warn('timeline flush failed; entries kept', {
          entries: this.buffer.size,
          ...errorFields(err),
        });
      } finally {
        this.flushing = undefined;
      }
      if (this.flushAgain && !this.buffer.empty && !this.unreachable()) {
        this.flushAgain = false;
        await this.flush();
      }
      this.flushAgain = false;
    })();
    return this.flushing;
  }

  private async reportLost(): Promise<void> {
    for (const [callSid, lost] of this.buffer.takeLost()) {
      const args = [
        'event',
        'timeline.lost',
        'app',
        this.options.app,
        'instance',
        this.options.instance,
        'ts',
        String(Date.now()),
        'lost',
        String(lost),
      ];
      this.options.logger.warn('timeline entries lost while redis was unreachable', { callSid, lost });
      try {
        await this.write(callSid, args);
      } catch (err) {
        this.buffer.restoreLost(callSid, lost);
        throw err;
      }
    }
  }

  private newExpiredSet(): RecentSet<string> {
    return new RecentSet(this.options.expiredCallsRemembered ?? TIMELINE_DEFAULTS.expiredCallsRemembered);
  }
}

function flatten(fields: TimelineFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    out[k] = typeof v === 'number' ? String(Math.round(v * 10) / 10) : String(v);
  }
  return out;
}

export async function readTimeline(redis: RedisClient, callSid: string): Promise<TimelineEntry[]> {
  const raw = await redis.xrange(callKeys.timeline(callSid), '-', '+');
  return raw.map(([id, kv]) => toTimelineEntry(id, kv));
}

/** One timeline stream entry (its id and flat field list, as XRANGE and XREAD return them). */
export function toTimelineEntry(id: string, kv: readonly string[]): TimelineEntry {
  const all: Record<string, string> = {};
  for (let i = 0; i + 1 < kv.length; i += 2) all[kv[i]!] = kv[i + 1]!;
  const { event = '', app = '', instance = '', ts = '0', ...fields } = all;
  return { id, event, app, instance, ts: Number(ts), fields };
}

/** Human-readable timeline: one line per event with ms since the first event. */
export function formatTimeline(entries: TimelineEntry[]): string {
  if (entries.length === 0) return '(no timeline entries)';
  const t0 = entries[0]!.ts;
  const width = Math.max(...entries.map((e) => e.event.length));
  return entries
    .map((e) => {
      const offset = `+${String(e.ts - t0).padStart(6)} ms`;
      const fields = Object.entries(e.fields)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      return `${offset}  ${e.event.padEnd(width)}  ${e.app.padEnd(15)} ${fields}`;
    })
    .join('\n');
}
