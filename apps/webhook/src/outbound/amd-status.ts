/**
 * POST /twilio/amd-status: Twilio's asynchronous answering machine detection
 * result for a call this service placed. The agent greeted at START (AMD runs
 * alongside, so a person hears the agent at once); this callback records who
 * answered (`call.answered_by`, the calls row) and acts on it (voicemail.ts):
 * a person: nothing to do; a machine whose greeting ended: the voicemail, then a
 * hangup; a fax: a hangup. All through the REST API on the live call.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import { describeIssues } from '../routes/voice-params.js';
import type { TwilioClient } from '@voice/protocols/twilio-rest';
import { ANSWERED_BY, amdAction, voicemailTwiml, type AmdAction, type AnsweredBy } from './voicemail.js';

const amdParams = z.object({
  CallSid: z.string().regex(/^CA[0-9a-f]{32}$/i, 'must be a Twilio Call SID'),
  AnsweredBy: z.enum(ANSWERED_BY, { message: `must be one of ${ANSWERED_BY.join(', ')}` }),
  MachineDetectionDuration: z.coerce.number().nonnegative().optional(),
});

export interface AmdStatusDeps {
  /** Undefined when outbound calls are off (no API_TOKEN): the result is recorded, nothing is done. */
  twilio: TwilioClient | undefined;
  voicemailVoice: string | undefined;
  businesses: BusinessRepository;
  calls: CallRepository;
  timeline: Timeline;
  logger: Logger;
}

export function amdStatusHandler(deps: AmdStatusDeps) {
  return async (req: Request, res: Response) => {
    const parsed = amdParams.safeParse(req.body ?? {});
    if (!parsed.success) {
      res
        .status(400)
        .type('text/plain')
        .send(`Invalid AMD callback: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const { CallSid: callSid, AnsweredBy: answeredBy, MachineDetectionDuration: detectionMs } = parsed.data;
    const log = deps.logger.child({ callSid });
    try {
      const call = await deps.calls.findByCallSid(callSid);
      const business = call?.businessId ? await deps.businesses.findById(call.businessId) : null;
      const message = business?.voicemailMessage ?? null;
      const action = amdAction(answeredBy, message);
      await Promise.all([
        deps.calls.recordAnsweredBy(callSid, answeredBy),
        deps.timeline.record(
          callSid,
          'call.answered_by',
          { answered_by: answeredBy, detection_ms: detectionMs, action },
          { logger: log },
        ),
      ]);
      await act(deps, callSid, answeredBy, action, message, log);
      res.status(204).end();
    } catch (err) {
      log.error('AMD callback failed', errorFields(err));
      res.status(500).type('text/plain').send('could not act on the AMD result\n');
    }
  };
}

async function act(
  deps: AmdStatusDeps,
  callSid: string,
  answeredBy: AnsweredBy,
  action: AmdAction,
  message: string | null,
  log: Logger,
): Promise<void> {
  if (action === 'converse' || action === 'wait') return;
  if (!deps.twilio) {
    log.warn('cannot act on the AMD result: no Twilio REST credentials (API_TOKEN, TWILIO_ACCOUNT_SID)', {
      answeredBy,
      action,
    });
    return;
  }
  const started = performance.now();
  const call = deps.twilio.calls(callSid);
  try {
    if (action === 'voicemail') {
      await call.update({ twiml: voicemailTwiml(message!, deps.voicemailVoice) });
      await deps.timeline.record(
        callSid,
        'outbound.voicemail',
        { chars: message!.length, rest_ms: performance.now() - started },
        { logger: log },
      );
    } else {
      await call.update({ status: 'completed' });
      const reason = answeredBy === 'fax' ? 'fax' : 'machine_no_message';
      await deps.timeline.record(
        callSid,
        'outbound.hangup',
        { reason, rest_ms: performance.now() - started },
        { logger: log },
      );
    }
  } catch (err) {
    // The callee may have hung up already (Twilio: 21220, call not in progress): nothing left to do.
    await deps.timeline.record(
      callSid,
      action === 'voicemail' ? 'outbound.voicemail' : 'outbound.hangup',
      { error: (err as Error).message },
      { logger: log, level: 'warn' },
    );
  }
}
