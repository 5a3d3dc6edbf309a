/**
 * The end of a call that no bridge owns, written by the gateway: a stream
 * that never started (no_start), or one that no bridge had room for
 * (NO_CAPACITY). The same record a bridge writes for its calls: `call.ended`,
 * the calls row (tried again after a Postgres blip, as the bridge does;
 * `call.record_failed` when every try was refused), and the call's transient
 * keys deleted (the timeline stays).
 */
import { errorFields } from '@voice/logging';
import type { Logger } from '@voice/logging';
import { isUuid, writeCallRow, type CallEnded } from '@voice/db';
import { transientCallKeys, type CallMeta } from '@voice/redis';
import type { GatewayContext } from '../context.js';
import type { CallCheckpoints } from './call-checkpoints.js';

export interface UnownedEnd {
  callSid: string;
  meta: CallMeta | undefined;
  endedAt: number;
  endReason: string;
  rx: number;
  tx: number;
  durationMs: number;
  metrics: Record<string, string | number>;
}

export async function finishUnownedCall(
  ctx: GatewayContext,
  checkpoints: CallCheckpoints,
  log: Logger,
  end: UnownedEnd,
): Promise<void> {
  checkpoints.record(
    'call.ended',
    { end_reason: end.endReason, rx: end.rx, tx: end.tx, is_ghost: false, duration_ms: end.durationMs },
    'warn',
  );
  const { meta } = end;
  const row: CallEnded = {
    endedAt: new Date(end.endedAt),
    status: 'failed',
    endReason: end.endReason,
    rxFrames: end.rx,
    txFrames: end.tx,
    isGhost: false,
    // The caller heard the busy clip or the TwiML fallback: told, not left in silence.
    silentFailure: false,
    metrics: { ...end.metrics, end_reason: end.endReason },
    // Used only if the webhook's row is missing; a stale business id must not break the insert.
    businessId: meta && isUuid(meta.businessId) ? meta.businessId : null,
    direction: meta?.direction,
    from: meta?.from,
    to: meta?.to,
  };
  const written = await writeCallRow(() => ctx.calls.recordEnded(end.callSid, row), {
    logger: log,
    retried: () => ctx.metrics.callRecordRetries.inc(),
    failed: () => ctx.metrics.callRecordFailures.inc(),
  });
  if (!written.ok)
    checkpoints.record('call.record_failed', { attempts: written.attempts, error: written.error }, 'error');
  await ctx.redis
    .del(...transientCallKeys(end.callSid))
    .catch((err: unknown) => log.error('call key cleanup failed', errorFields(err)));
  await checkpoints.settled();
}
