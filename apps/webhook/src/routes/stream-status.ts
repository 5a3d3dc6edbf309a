/** POST /twilio/stream-status: Twilio's <Stream statusCallback> (started, stopped, error) onto the timeline. */
import type { Request, Response } from 'express';
import type { Logger } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import { describeIssues, streamStatusParams } from './voice-params.js';

export function streamStatusHandler(deps: { timeline: Timeline; logger: Logger }) {
  return async (req: Request, res: Response) => {
    const parsed = streamStatusParams.safeParse(req.body ?? {});
    if (!parsed.success) {
      res
        .status(400)
        .type('text/plain')
        .send(`Invalid stream status callback: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const p = parsed.data;
    const isError = p.StreamEvent === 'stream-error';
    await deps.timeline.record(
      p.CallSid,
      'twilio.stream_status',
      { stream_event: p.StreamEvent, stream_sid: p.StreamSid, stream_error: p.StreamError },
      { level: isError ? 'error' : 'info', logger: deps.logger.child({ callSid: p.CallSid }) },
    );
    res.status(204).end();
  };
}
