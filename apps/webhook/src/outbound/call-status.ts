/**
 * POST /twilio/call-status: Twilio's status callback for the calls this service
 * placed. Every status goes on the timeline (`twilio.call_status`). A call that
 * ends without ever having had a media stream (busy, no-answer, failed,
 * canceled; or completed, e.g. hung up before the stream opened) is finalized
 * here: the calls row gets its status, `call.ended` goes on the timeline, the
 * transient keys are deleted. A call that had a stream is the bridge's to
 * finalize; the conditional update in recordUnanswered leaves it alone, so no
 * call is finalized twice (finalize-unanswered.ts, which also gives back the
 * place the call held in the bridges' room while it rang).
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { OutboundRoom, RedisClient, Timeline } from '@voice/redis';
import { describeIssues } from '../routes/voice-params.js';
import { FINAL_STATUSES, finalizeUnanswered } from './finalize-unanswered.js';

const callStatusParams = z.object({
  CallSid: z.string().regex(/^CA[0-9a-f]{32}$/i, 'must be a Twilio Call SID'),
  CallStatus: z.string().min(1, 'is required'),
  /** Seconds, on the final callback. */
  CallDuration: z.coerce.number().int().nonnegative().optional(),
});

export function callStatusHandler(deps: {
  redis: RedisClient;
  calls: CallRepository;
  timeline: Timeline;
  logger: Logger;
  room?: OutboundRoom;
}) {
  return async (req: Request, res: Response) => {
    const parsed = callStatusParams.safeParse(req.body ?? {});
    if (!parsed.success) {
      res
        .status(400)
        .type('text/plain')
        .send(`Invalid call status callback: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const p = parsed.data;
    const log = deps.logger.child({ callSid: p.CallSid });
    const final = FINAL_STATUSES[p.CallStatus];
    const level = final === 'failed' ? 'warn' : 'info';
    await deps.timeline.record(
      p.CallSid,
      'twilio.call_status',
      { call_status: p.CallStatus, duration_s: p.CallDuration },
      { logger: log, level },
    );
    if (final) {
      try {
        await finalizeUnanswered(deps, p.CallSid, final, p.CallDuration, log);
      } catch (err) {
        // Answered with 500 so Twilio's log shows it; the stream watchdog still ends an answered call.
        log.error('finalizing an unanswered call failed', errorFields(err));
        res.status(500).type('text/plain').send('could not record the call status\n');
        return;
      }
    }
    res.status(204).end();
  };
}
