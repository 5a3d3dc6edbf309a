/**
 * `calls live`: the bridges in the registry, then every live call with its
 * owner bridge (and whether that bridge is still reporting), the gateway
 * holding its Twilio socket, its age and its state.
 *
 * Live calls are the calls rows not ended yet, confirmed by Redis: a row whose
 * call Redis no longer knows (no meta, no owner: the process that should have
 * ended it died) is not live, and is only counted.
 */
import { createCallSearch, type Call } from '@voice/db';
import {
  BridgeRegistry,
  CALL_META_TTL_SECONDS,
  callKeys,
  readTimeline,
  sharedKeys,
  type BridgeInfo,
  type TimelineEntry,
} from '@voice/redis';
import type { CliContext } from './context.js';
import { liveStateOf, type LiveState } from './live-state.js';
import { formatMs, table } from './output.js';

export const LIVE_DEFAULTS = {
  /** Live calls listed at most. */
  limit: 500,
  /** A call's meta lives this long; an older unended row is not a live call. */
  lookBackMs: CALL_META_TTL_SECONDS * 1000,
} as const;

/** live: reporting; draining: shutting down, handing calls over; gone: no fresh report (dead or partitioned). */
export type BridgeStatus = 'live' | 'draining' | 'gone';

interface LiveCall {
  call: Call;
  timeline: TimelineEntry[];
  state: LiveState;
  owner: string | null;
  gateway: string | null;
}

const lastOf = (timeline: readonly TimelineEntry[], event: string) => timeline.findLast((e) => e.event === event);

function bridgeStatus(info: BridgeInfo | undefined, now: number, staleMs: number): BridgeStatus {
  if (!info || now - info.at > staleMs) return 'gone';
  return info.draining ? 'draining' : 'live';
}

export async function live(ctx: CliContext): Promise<void> {
  const now = ctx.now();
  const registry = new BridgeRegistry(ctx.redis, sharedKeys(ctx.config.namespace), ctx.config.registryStaleMs);
  const [bridges, rows] = await Promise.all([
    registry.all(),
    ctx.db((knex) => createCallSearch(knex).notEnded(new Date(now - LIVE_DEFAULTS.lookBackMs), LIVE_DEFAULTS.limit)),
  ]);
  const checked = await Promise.all(rows.map((call) => inspect(ctx, call)));
  const calls = checked.filter((c): c is LiveCall => c !== undefined);
  const stale = rows.length - calls.length;
  const byInstance = new Map(bridges.map((b) => [b.instance, b]));
  const staleMs = ctx.config.registryStaleMs;

  const { out } = ctx;
  for (const b of bridges) {
    out.record('bridge', {
      instance: b.instance,
      status: bridgeStatus(b, now, staleMs),
      load: b.load,
      capacity: b.capacity,
      draining: b.draining,
      link: `${b.linkHost}:${b.linkPort}`,
      reported_ms_ago: now - b.at,
    });
  }
  for (const c of calls) {
    const owner = c.owner === null ? undefined : byInstance.get(c.owner);
    const last = c.timeline[c.timeline.length - 1];
    out.record('live_call', {
      call_sid: c.call.callSid,
      direction: c.call.direction,
      from: c.call.from,
      to: c.call.to,
      received_at: c.call.receivedAt?.toISOString() ?? null,
      age_ms: c.call.receivedAt ? now - c.call.receivedAt.getTime() : null,
      state: c.state,
      gateway: c.gateway,
      bridge: c.owner,
      bridge_status: c.owner === null ? null : bridgeStatus(owner, now, staleMs),
      last_event: last?.event ?? null,
      last_event_ms_ago: last ? now - last.ts : null,
    });
  }
  if (out.json) return;

  out.line(`bridges (namespace ${ctx.config.namespace}): ${bridges.length === 0 ? 'none registered' : bridges.length}`);
  if (bridges.length > 0) {
    const header = ['  instance', 'status', 'load', 'link', 'last report'];
    const lines = bridges.map((b) => [
      `  ${b.instance}`,
      bridgeStatus(b, now, staleMs),
      `${b.load}/${b.capacity}`,
      `${b.linkHost}:${b.linkPort}`,
      `${formatMs(now - b.at)} ago`,
    ]);
    for (const line of table([header, ...lines])) out.line(line);
  }
  out.line();
  out.line(
    `live calls: ${calls.length}${stale > 0 ? ` (and ${stale} not ended in PostgreSQL but gone from Redis: their process died before ending them)` : ''}`,
  );
  if (calls.length === 0) return;
  const header = ['  CallSid', 'age', 'state', 'from -> to', 'gateway', 'bridge (owner)', 'last event'];
  const lines = calls.map((c) => {
    const last = c.timeline[c.timeline.length - 1];
    const owner = c.owner === null ? '-' : `${c.owner} (${bridgeStatus(byInstance.get(c.owner), now, staleMs)})`;
    return [
      `  ${c.call.callSid}`,
      c.call.receivedAt ? formatMs(now - c.call.receivedAt.getTime()) : '-',
      c.state,
      `${c.call.from ?? '?'} -> ${c.call.to ?? '?'}`,
      c.gateway ?? '-',
      owner,
      last ? `${last.event} ${formatMs(now - last.ts)} ago` : '-',
    ];
  });
  for (const line of table([header, ...lines])) out.line(line);
}

/** The call's Redis side; undefined when Redis no longer knows the call (or its timeline says it ended). */
async function inspect(ctx: CliContext, call: Call): Promise<LiveCall | undefined> {
  const [owner, metaKeys, timeline] = await Promise.all([
    ctx.redis.get(callKeys.owner(call.callSid)),
    ctx.redis.exists(callKeys.meta(call.callSid)),
    readTimeline(ctx.redis, call.callSid),
  ]);
  if ((owner === null && metaKeys === 0) || timeline.some((e) => e.event === 'call.ended')) return undefined;
  // The gateway that attached the call last holds its socket now (a call can move); before that, the one that took START.
  const gateway =
    lastOf(timeline, 'link.attached')?.instance ??
    call.gatewayInstance ??
    lastOf(timeline, 'stream.started')?.instance ??
    null;
  return { call, timeline, state: liveStateOf(timeline), owner, gateway };
}
