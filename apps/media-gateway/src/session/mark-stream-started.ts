/**
 * Stamps the call's row with the START (stream_started_at, in_progress). The
 * row is bookkeeping and audio never waits for it, but the webhook's stream
 * watchdog ends a call whose row still says its stream never started after
 * STREAM_WATCHDOG_MS (15 s): one Postgres blip at START must not get a live
 * call recorded as `no_stream` and its keys deleted. So the write is tried
 * again, well within that window (the upsert keeps the first START's time).
 */
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { retryAfter } from '@voice/runtime';

/** Waits between attempts: 7.5 s in all, half the watchdog's default delay. */
export const STREAM_STARTED_RETRY_DELAYS_MS = [500, 1000, 2000, 4000] as const;

export async function markStreamStarted(
  calls: CallRepository,
  callSid: string,
  input: { at: Date; gatewayInstance: string },
  log: Logger,
): Promise<void> {
  const stamped = await retryAfter(STREAM_STARTED_RETRY_DELAYS_MS, () => calls.markStreamStarted(callSid, input), {
    onRetry: (_err, attempt, retryInMs) =>
      log.warn('calls row update failed; trying again', { step: 'markStreamStarted', attempt, retry_in_ms: retryInMs }),
  });
  if (stamped.ok && stamped.attempts > 1)
    log.info('calls row stamped with START after a retry', { attempt: stamped.attempts });
  if (!stamped.ok)
    log.error('calls row update failed; the stream watchdog may end this call as no_stream', {
      step: 'markStreamStarted',
      attempts: stamped.attempts,
      ...errorFields(stamped.error),
    });
}
