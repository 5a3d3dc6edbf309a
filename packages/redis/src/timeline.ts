import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { RedisClient } from './connection.js';
import { callKeys } from './keys.js';
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
} as const;

export interface TimelineOptions {
  redis: RedisClient;
  app: string;
  instance: string;
  logger: Logger;
  maxLen?: number;
  ttlSeconds?: number;
  expiredCallsRemembered?: number;
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
 */
export class Timeline {
  private readonly maxLen: number;
  private readonly ttlSeconds: number;
  /** CallSids whose timeline this process has already given a TTL. */
  private readonly expired: RecentSet<string>;

  constructor(private readonly options: TimelineOptions) {
    this.maxLen = options.maxLen ?? TIMELINE_DEFAULTS.maxLen;
    this.ttlSeconds = options.ttlSeconds ?? TIMELINE_DEFAULTS.ttlSeconds;
    this.expired = new RecentSet(options.expiredCallsRemembered ?? TIMELINE_DEFAULTS.expiredCallsRemembered);
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
    const key = callKeys.timeline(callSid);
    const args: string[] = ['event', event, 'app', this.options.app, 'instance', this.options.instance, 'ts', String(ts)];
    for (const [k, v] of Object.entries(flat)) args.push(k, v);
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
      log.error('timeline write failed', { event, ...errorFields(err) });
    }
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
