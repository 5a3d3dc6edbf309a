/**
 * POST /twilio/amd-status: Twilio's asynchronous answering machine detection
 * result for a call this service placed. The agent greeted at START (AMD runs
 * alongside, so a person hears the agent at once); this callback records who
 * answered (`call.answered_by`, the calls row) and acts on it (voicemail.ts):
 * a person: nothing to do; a machine whose greeting ended: the voicemail, then a
 * hangup; a fax: a hangup. All through the REST API on the live call. Twilio
 * sends this callback once, so the action does not wait on the bookkeeping
 * and is asked again when Twilio fails on its side.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { retryAfter } from '@voice/runtime';
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
      const message = await voicemailMessage(deps, callSid, log);
      const action = amdAction(answeredBy, message);
      // Twilio does not send this callback again: the bookkeeping must not stop the action.
      const [recorded] = await Promise.allSettled([
        deps.calls.recordAnsweredBy(callSid, answeredBy),
        deps.timeline.record(
          callSid,
          'call.answered_by',
          { answered_by: answeredBy, detection_ms: detectionMs, action },
          { logger: log },
        ),
      ]);
      if (recorded.status === 'rejected')
        log.error('answered_by not recorded on the calls row; acting on it anyway', errorFields(recorded.reason));
      await act(deps, callSid, answeredBy, action, message, log);
      res.status(204).end();
    } catch (err) {
      log.error('AMD callback failed', errorFields(err));
      res.status(500).type('text/plain').send('could not act on the AMD result\n');
    }
  };
}

/** The business's voicemail message for this call; null without one, or when Postgres cannot say (then a machine is hung up on). */
async function voicemailMessage(deps: AmdStatusDeps, callSid: string, log: Logger): Promise<string | null> {
  try {
    const call = await deps.calls.findByCallSid(callSid);
    const business = call?.businessId ? await deps.businesses.findById(call.businessId) : null;
    return business?.voicemailMessage ?? null;
  } catch (err) {
    log.error('voicemail message not read; a machine is hung up on instead', errorFields(err));
    return null;
  }
}

/** Waits before asking Twilio again after a failure on its side (5xx, timeout): the callback comes once. */
export const AMD_ACTION_RETRY_DELAYS_MS = [500, 1500] as const;

/** Twilio's answer for a call that is no longer in progress (the callee hung up): nothing left to do. */
const CALL_NOT_IN_PROGRESS = 21220;

/** Worth another try: Twilio failed on its side or did not answer; not a refusal of the request itself. */
function worthRetrying(err: unknown): boolean {
  const { status, code } = err as { status?: number; code?: number };
  if (code === CALL_NOT_IN_PROGRESS) return false;
  return status === undefined || status >= 500;
}

/** The call update, tried again on Twilio's own failures; returns the attempts it took. */
async function updateCall(
  deps: AmdStatusDeps,
  callSid: string,
  params: { twiml: string } | { status: 'completed' },
  log: Logger,
): Promise<number> {
  const updated = await retryAfter(AMD_ACTION_RETRY_DELAYS_MS, () => deps.twilio!.calls(callSid).update(params), {
    worthRetrying,
    onRetry: (err, attempt, retryInMs) =>
      log.warn('Twilio failed the AMD action; asking again', { attempt, retry_in_ms: retryInMs, ...errorFields(err) }),
  });
  if (!updated.ok) throw updated.error;
  return updated.attempts;
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
  try {
    if (action === 'voicemail') {
      const attempts = await updateCall(deps, callSid, { twiml: voicemailTwiml(message!, deps.voicemailVoice) }, log);
      await deps.timeline.record(
        callSid,
        'outbound.voicemail',
        { chars: message!.length, rest_ms: performance.now() - started, attempts },
        { logger: log },
      );
    } else {
      const attempts = await updateCall(deps, callSid, { status: 'completed' }, log);
      const reason = answeredBy === 'fax' ? 'fax' : 'machine_no_message';
      await deps.timeline.record(
        callSid,
        'outbound.hangup',
        { reason, rest_ms: performance.now() - started, attempts },
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
