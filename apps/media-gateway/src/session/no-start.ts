/**
 * What a socket that never started a stream was. Three answers:
 * - a failed call: the webhook answered this CallSid (its meta is in Redis) but
 *   Twilio never sent START. No bridge will ever own it, so the gateway ends it
 *   here: timeline, counter, the calls row as failed, and the call's transient
 *   keys (token, meta, prompt, ...) deleted as the bridge does when it ends a call
 *   (and a bridge that holds a warm session for it told to close it).
 * - a ghost: nothing was ever received and no call is known (load-balancer
 *   probes, preflights). Noted in the shared ghosts stream, logged at info:
 *   not an error, nobody needs to be paged.
 * - anything else (traffic but no START, no known call): a warning.
 */
import { errorFields } from '@voice/logging';
import type { Logger } from '@voice/logging';
import { callKeys, readCallMeta } from '@voice/redis';
import type { CallMeta } from '@voice/redis';
import type { GatewayContext } from '../context.js';
import type { CallCheckpoints } from './call-checkpoints.js';
import { finishUnownedCall } from './finish-unowned.js';

export type NoStartReason = 'start_timeout' | 'closed_before_start' | 'gateway_shutdown';

export interface NoStartSocket {
  ctx: GatewayContext;
  /** CallSid from the stream URL's path, if the webhook put one there. */
  pathCallSid: string | undefined;
  hadTraffic: boolean;
  acceptedAt: number;
  remote: string;
  log: Logger;
  checkpoints: CallCheckpoints;
}

export async function settleNoStart(socket: NoStartSocket, reason: NoStartReason): Promise<void> {
  const { ctx, log } = socket;
  const waitedMs = Date.now() - socket.acceptedAt;
  const meta = socket.pathCallSid ? await readMeta(socket, socket.pathCallSid) : undefined;
  if (meta) {
    await failCall(socket, meta, reason, waitedMs);
    return;
  }
  if (!socket.hadTraffic) {
    await recordGhost(socket, reason);
    return;
  }
  ctx.metrics.noStart.labels({ known_call: 'false' }).inc();
  log.warn('stream.no_start', {
    event: 'stream.no_start',
    reason,
    waited_ms: waitedMs,
    pathCallSid: socket.pathCallSid,
  });
}

async function readMeta(socket: NoStartSocket, callSid: string): Promise<CallMeta | undefined> {
  try {
    return await readCallMeta(socket.ctx.redis, callSid);
  } catch (err) {
    socket.log.error('call meta read failed', { callSid, ...errorFields(err) });
    return undefined;
  }
}

async function failCall(socket: NoStartSocket, meta: CallMeta, reason: NoStartReason, waitedMs: number): Promise<void> {
  const { ctx, checkpoints, log } = socket;
  const endedAt = Date.now();
  ctx.metrics.noStart.labels({ known_call: 'true' }).inc();
  // Now known to be a real call: what was held (ws.accepted, stream.start_slow, ...) goes to its timeline.
  checkpoints.bind(meta.callSid, log);
  checkpoints.record('stream.no_start', { reason, waited_ms: waitedMs }, 'warn');
  // A bridge may already hold a warm session for this call (opened while the phone rang): it must let go.
  await tellWarmOwner(socket, meta.callSid, endedAt);
  await finishUnownedCall(ctx, checkpoints, log, {
    callSid: meta.callSid,
    meta,
    endedAt,
    endReason: 'no_start',
    rx: 0,
    tx: 0,
    durationMs: endedAt - socket.acceptedAt,
    metrics: { start_wait_ms: waitedMs, no_start_reason: reason },
  });
}

/**
 * Tells the bridge holding a warm session for the call (if any) that the call never
 * started, over their media link; it closes the model session. True when one was told.
 */
async function tellWarmOwner(socket: NoStartSocket, callSid: string, endedAt: number): Promise<boolean> {
  const { ctx, log } = socket;
  try {
    const owner = await ctx.redis.get(callKeys.owner(callSid));
    if (!owner) return false;
    const link = await ctx.links.linkTo(owner);
    return (
      link?.send({
        t: 'stop',
        call: callSid,
        reason: 'no_start',
        rx: 0,
        tx: 0,
        txBytes: 0,
        endedAt,
        invalidMessages: 0,
      }) ?? false
    );
  } catch (err) {
    log.error('warm owner could not be told', errorFields(err));
    return false;
  }
}

async function recordGhost(socket: NoStartSocket, reason: NoStartReason): Promise<void> {
  const { ctx, log } = socket;
  const ts = Date.now();
  ctx.metrics.ghosts.inc();
  log.info('ws.ghost', {
    event: 'ws.ghost',
    reason,
    waited_ms: ts - socket.acceptedAt,
    pathCallSid: socket.pathCallSid,
  });
  const fields = [
    'event',
    'ws.ghost',
    'reason',
    reason,
    'remote',
    socket.remote,
    'instance',
    ctx.config.instanceId,
    'ts',
    String(ts),
  ];
  if (socket.pathCallSid) fields.push('call_sid', socket.pathCallSid);
  try {
    await ctx.redis.xadd(ctx.keys.ghosts, 'MAXLEN', '~', String(ctx.config.ghostStreamMaxLen), '*', ...fields);
  } catch (err) {
    log.error('ghost stream write failed', errorFields(err));
  }
}
