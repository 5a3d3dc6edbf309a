/**
 * Ends an outbound call that never had a media stream (busy, no-answer,
 * failed, canceled; or completed, e.g. hung up before the stream opened), from
 * Twilio's final status: the calls row gets the status, `call.ended` goes on
 * the timeline, the transient keys are deleted. The conditional update in
 * recordUnanswered leaves a call that had a stream (its bridge finalizes it)
 * or has already ended alone, so no call is finalized twice. Either way the
 * place the call held in the bridges' room while it rang (OutboundRoom) is
 * given back. Used by the status callback and, when that callback was lost, by
 * the placed-call sweep.
 */
import type { CallRepository, UnansweredStatus } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { transientCallKeys, type OutboundRoom, type RedisClient, type Timeline } from '@voice/redis';

/** Twilio's final statuses, as the calls row spells them. */
export const FINAL_STATUSES: Readonly<Record<string, UnansweredStatus>> = {
  busy: 'busy',
  'no-answer': 'no_answer',
  failed: 'failed',
  canceled: 'canceled',
  completed: 'completed',
};

/** end_reason of an answered call that never had a stream (as the stream watchdog says it). */
const NO_STREAM_REASON = 'no_stream';
const MS_PER_SECOND = 1000;

export interface FinalizeUnansweredDeps {
  redis: RedisClient;
  calls: CallRepository;
  timeline: Timeline;
  room?: OutboundRoom;
}

/** Resolves true when this call ended the row (false: it had a stream, or had already ended). */
export async function finalizeUnanswered(
  deps: FinalizeUnansweredDeps,
  callSid: string,
  status: UnansweredStatus,
  durationS: number | undefined,
  log: Logger,
): Promise<boolean> {
  // Best effort: a reservation left behind expires after the longest ring.
  await deps.room
    ?.taken(callSid)
    .catch((err: unknown) => log.warn('outbound room reservation not released; it expires', errorFields(err)));
  const endReason = status === 'completed' ? NO_STREAM_REASON : status;
  const durationMs = durationS === undefined ? null : durationS * MS_PER_SECOND;
  const ended = await deps.calls.recordUnanswered(callSid, { status, endedAt: new Date(), endReason, durationMs });
  if (!ended) return false;
  await deps.timeline.record(
    callSid,
    'call.ended',
    { end_reason: endReason, rx: 0, tx: 0, is_ghost: false, duration_ms: durationMs ?? 0 },
    { logger: log },
  );
  // A warm session on a bridge for this call closes at its TTL (warm.expired); its keys go now.
  await deps.redis
    .del(...transientCallKeys(callSid))
    .catch((err: unknown) => log.error('call key cleanup failed', errorFields(err)));
  return true;
}
