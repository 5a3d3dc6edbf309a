/**
 * A shutting-down bridge's calls move to other bridges (a rolling deploy): each
 * live call is offered to its gateway for re-homing (`rehome`), between the
 * agent's replies; the gateway claims it for another bridge with room, which
 * takes the owner key over and resumes from the conversation record, then
 * sends this bridge the call's `stop` (handed_over) and the session here ends
 * without finalizing the call. A call no other bridge could take stays here
 * and is offered again every `retryMs`, until the deadline.
 */
import type { Logger } from '@voice/logging';
import type { CallRegistry } from './call-registry.js';

export interface HandoverTimings {
  retryMs: number;
  replyWaitMs: number;
  replyCheckMs: number;
}

/** Resolves true when no call is left, false at `deadlineMs` with calls still here. */
export async function handOverCalls(
  calls: CallRegistry,
  timings: HandoverTimings,
  deadlineMs: number,
  logger: Logger,
): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  let rounds = 0;
  while (calls.size > 0) {
    const left = until - Date.now();
    if (left <= 0) return false;
    const answers = calls.all().map((call) => call.askToMove(timings));
    if (rounds++ === 0)
      logger.info('handing live calls over to other bridges', {
        calls: answers.length,
        asked: answers.filter((a) => a === 'asked').length,
      });
    // Looked at again sooner while some call waits for its agent's reply to end.
    const waitMs = answers.includes('waiting') ? Math.min(timings.retryMs, timings.replyCheckMs) : timings.retryMs;
    if (await calls.waitUntilIdle(Math.min(waitMs, left))) return true;
  }
  return true;
}
