/**
 * `calls tail [--call CA…] [--event name,…] [--for 30s]`: timeline events of
 * every live call (or of the given calls) as they are written, until Ctrl-C
 * or the --for duration.
 *
 * Why polling per call and not one shared stream: a stream every timeline
 * event is also written to would cost one more XADD per event for every call,
 * all day, to serve a command someone runs for a few minutes (the project's
 * budget is <=2 Redis commands per call-second). And XREAD cannot read many
 * calls' streams in one command on a Redis Cluster (they live in different
 * slots). So the CLI pays instead, and only while it runs: every `pollMs` one
 * PostgreSQL query finds the calls not ended (plus those that ended in the last
 * `lingerMs`, whose last events are still arriving), and one non-blocking XREAD
 * per such call reads what is new since the last read. Nothing is written.
 * Events written before the tail started are not shown (the start is Redis's
 * own TIME, so stream ids compare on one clock); `show CA…` has the history.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCallSearch } from '@voice/db';
import { CALL_META_TTL_SECONDS, callKeys, toTimelineEntry, type TimelineEntry } from '@voice/redis';
import type { CliContext } from './context.js';
import { oneLine } from './errors.js';
import { TROUBLE_EVENTS } from './failure.js';
import { clockTime, formatFields, isoTime } from './output.js';

export const TAIL_DEFAULTS = {
  pollMs: 500,
  /** A call's last events (call.metrics) follow the end of its row by well under this. */
  lingerMs: 10_000,
  /** Calls answered longer ago than a call's meta lives are not live. */
  lookBackMs: CALL_META_TTL_SECONDS * 1000,
  /** Calls followed at once, at most. */
  maxCalls: 2000,
  /** Entries read per call per poll (a timeline holds at most 2000). */
  readCount: 500,
} as const;

const MICROSECONDS_PER_MS = 1000;
const MS_PER_SECOND = 1000;

export interface TailOptions {
  callSids: string[];
  events: string[];
  forMs: number | undefined;
}

interface Followed {
  /** The last stream id read. */
  lastId: string;
  /** When the call ended, if it has (from its row). */
  endedAt: number | null;
}

/** Redis's clock, in ms: stream ids are stamped with it. */
async function redisNowMs(ctx: CliContext): Promise<number> {
  const [seconds, micros] = await ctx.redis.time();
  return Number(seconds) * MS_PER_SECOND + Math.floor(Number(micros) / MICROSECONDS_PER_MS);
}

export async function tail(ctx: CliContext, options: TailOptions): Promise<void> {
  const startId = `${await redisNowMs(ctx)}-0`;
  const followed = new Map<string, Followed>(options.callSids.map((sid) => [sid, { lastId: startId, endedAt: null }]));
  const wanted = new Set(options.events);
  const until = options.forMs === undefined ? Number.POSITIVE_INFINITY : ctx.now() + options.forMs;
  const errors = new Set<string>();
  let printed = 0;

  const what = options.callSids.length > 0 ? options.callSids.join(', ') : 'all live calls';
  ctx.note(`tailing ${what}${wanted.size > 0 ? ` (events: ${[...wanted].join(', ')})` : ''}; Ctrl-C to stop`);
  while (!ctx.signal.aborted && ctx.now() < until) {
    try {
      if (options.callSids.length === 0) await discover(ctx, followed, startId);
      const entries = (await Promise.all([...followed].map(([sid, f]) => readNew(ctx, sid, f)))).flat();
      // By stream id: one call's events keep their stream order, several calls' interleave by Redis's clock.
      entries.sort((a, b) => compareStreamIds(a.entry.id, b.entry.id));
      for (const { callSid, entry } of entries) {
        if (wanted.size > 0 && !wanted.has(entry.event)) continue;
        print(ctx, callSid, entry);
        printed++;
      }
      forgetFinished(followed, ctx.now());
    } catch (err) {
      // Redis or PostgreSQL blinked: say so once per distinct error and keep going.
      const line = oneLine(err);
      if (!errors.has(line)) ctx.note(`(tail: ${line}; retrying)`);
      errors.add(line);
    }
    await sleep(Math.min(TAIL_DEFAULTS.pollMs, Math.max(0, until - ctx.now())), undefined, {
      signal: ctx.signal,
    }).catch(() => undefined);
  }
  ctx.note(`tail stopped: ${printed} event${printed === 1 ? '' : 's'}`);
}

async function discover(ctx: CliContext, followed: Map<string, Followed>, startId: string): Promise<void> {
  const now = ctx.now();
  const calls = await ctx.db((knex) =>
    createCallSearch(knex).activeSince({
      receivedAfter: new Date(now - TAIL_DEFAULTS.lookBackMs),
      endedAfter: new Date(now - TAIL_DEFAULTS.lingerMs),
      limit: TAIL_DEFAULTS.maxCalls,
    }),
  );
  for (const { callSid, endedAt } of calls) {
    const known = followed.get(callSid);
    if (known) known.endedAt = endedAt?.getTime() ?? null;
    else followed.set(callSid, { lastId: startId, endedAt: endedAt?.getTime() ?? null });
  }
}

async function readNew(
  ctx: CliContext,
  callSid: string,
  f: Followed,
): Promise<Array<{ callSid: string; entry: TimelineEntry }>> {
  const reply = await ctx.redis.xread(
    'COUNT',
    TAIL_DEFAULTS.readCount,
    'STREAMS',
    callKeys.timeline(callSid),
    f.lastId,
  );
  const raw = reply?.[0]?.[1] ?? [];
  const last = raw[raw.length - 1];
  if (last) f.lastId = last[0];
  return raw.map(([id, kv]) => ({ callSid, entry: toTimelineEntry(id, kv) }));
}

/** Stream ids `<ms>-<seq>` in order. */
function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** Calls that ended more than `lingerMs` ago have written their last event. */
function forgetFinished(followed: Map<string, Followed>, now: number): void {
  for (const [sid, f] of followed)
    if (f.endedAt !== null && now - f.endedAt > TAIL_DEFAULTS.lingerMs) followed.delete(sid);
}

function print(ctx: CliContext, callSid: string, entry: TimelineEntry): void {
  ctx.out.record('event', {
    call_sid: callSid,
    id: entry.id,
    at: isoTime(entry.ts),
    ts: entry.ts,
    event: entry.event,
    app: entry.app,
    instance: entry.instance,
    fields: entry.fields,
  });
  const mark = TROUBLE_EVENTS.has(entry.event) ? '!' : ' ';
  ctx.out.line(
    `${clockTime(entry.ts)} ${mark} ${callSid}  ${entry.event.padEnd(22)} ${`${entry.app}/${entry.instance}`.padEnd(24)} ${formatFields(entry.fields)}`,
  );
}
