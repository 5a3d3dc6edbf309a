/**
 * POST /twilio/voice: Twilio asks what to do with a call. Everything needed to
 * answer is done at once (business lookup, call token, call record, the
 * prompt's prebuild, timeline), then TwiML connects the call to the media gateway.
 */
import type { Request, Response } from 'express';
import { writeCallRow, type BusinessRepository, type CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { PendingWork } from '@voice/runtime';
import { callKeys, writeCallMeta, type Timeline, type RedisClient } from '@voice/redis';
import type { WebhookConfig } from '../config.js';
import type { WebhookMetrics } from '../metrics.js';
import type { Prebuilder } from '../prebuild/prebuilder.js';
import { sayAndHangUpTwiml, streamTwiml, streamTwimlFor } from '../twiml.js';
import { connected, withDeadline } from './answer-deadline.js';
import { newCallToken } from './call-token.js';
import { callDirection, describeIssues, voiceWebhookParams, type VoiceWebhookParams } from './voice-params.js';

export interface VoiceWebhookDeps {
  config: WebhookConfig;
  /** Writes that outlive the request (a fallback call's row and its retries): shutdown waits for them. */
  pending: PendingWork;
  redis: RedisClient;
  businesses: BusinessRepository;
  calls: CallRepository;
  prebuilder: Prebuilder;
  timeline: Timeline;
  metrics: WebhookMetrics;
  logger: Logger;
}

type Outcome = 'connected' | 'unknown_number';
/** Why the caller got the spoken fallback instead of the stream. */
type FallbackReason = 'redis_down' | 'timeout' | 'error';

interface Answer {
  twiml: string;
  outcome: Outcome;
}

export function voiceWebhookHandler(deps: VoiceWebhookDeps) {
  return async (req: Request, res: Response) => {
    const started = performance.now();
    const parsed = voiceWebhookParams.safeParse(req.body ?? {});
    if (!parsed.success) {
      deps.metrics.voiceWebhooks.inc({ outcome: 'bad_request' });
      res
        .status(400)
        .type('text/plain')
        .send(`Invalid voice webhook: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const params = parsed.data;
    const log = deps.logger.child({ callSid: params.CallSid });
    const fallback = (reason: FallbackReason) => {
      const ms = Math.round(performance.now() - started);
      // The timeline keeps it until Redis is back (timeline.ts); the log has it now.
      void deps.timeline.record(params.CallSid, 'webhook.fallback', { reason, ms }, { level: 'warn', logger: log });
      // 'error' is the label the alert rules have always matched (infra/prometheus/alerts.yml).
      deps.metrics.voiceWebhooks.inc({ outcome: reason });
      res.type('text/xml').send(sayAndHangUpTwiml(deps.config.messages.fallback));
      deps.pending.track(recordFallbackCall(deps, params, reason, log));
    };
    try {
      // A call cannot be connected without Redis (token, meta, claims): say so soon, not after retries.
      if (!(await connected(deps.redis, deps.config.redisReadyWaitMs))) return fallback('redis_down');
      const work = answerCall(deps, params, log);
      const answer = await withDeadline(work, deps.config.answerTimeoutMs);
      if (answer === undefined) {
        void work.then(
          (late) => (late.outcome === 'connected' ? forgetLateCall(deps, params.CallSid, log) : undefined),
          () => undefined,
        );
        return fallback('timeout');
      }
      res.type('text/xml').send(answer.twiml);
      deps.metrics.voiceWebhooks.inc({ outcome: answer.outcome });
    } catch (err) {
      // Redis or Postgres failed: the caller still hears a message instead of Twilio's error tone.
      log.error('voice webhook failed', errorFields(err));
      fallback('error');
    } finally {
      deps.metrics.answerMs.observe(performance.now() - started);
    }
  };
}

/** The TwiML for a call: the stream (business found, call state written), or the unknown-number message. */
async function answerCall(deps: VoiceWebhookDeps, params: VoiceWebhookParams, log: Logger): Promise<Answer> {
  const direction = callDirection(params);
  const businessNumber = direction === 'inbound' ? params.To : params.From;
  await deps.timeline.record(
    params.CallSid,
    'webhook.received',
    { from: params.From, to: params.To, direction },
    { logger: log },
  );
  const business = await deps.businesses.findByPhoneNumber(businessNumber);
  if (!business) {
    await answerUnknownNumber(deps, params, direction, businessNumber, log);
    return { twiml: sayAndHangUpTwiml(deps.config.messages.unknownNumber), outcome: 'unknown_number' };
  }
  const callToken = newCallToken();
  const receivedAt = Date.now();
  // The calls row (status received) also arms the stream watchdog (watchdog/stream-watchdog.ts).
  await Promise.all([
    deps.redis.set(callKeys.token(params.CallSid), callToken, 'EX', deps.config.callTokenTtlSeconds),
    // Meta before the prebuild: a bridge taking the warm claim checks that the call exists.
    writeCallMeta(deps.redis, {
      callSid: params.CallSid,
      businessId: business.id,
      direction,
      from: params.From,
      to: params.To,
      receivedAt,
    }).then(() => deps.prebuilder.prebuild({ callSid: params.CallSid, business, direction, receivedAt }, log)),
    deps.calls.recordReceived({
      callSid: params.CallSid,
      businessId: business.id,
      direction,
      from: params.From,
      to: params.To,
      status: 'received',
    }),
  ]);
  const twiml = streamTwiml(
    streamTwimlFor(deps.config, params.CallSid, { callToken, businessId: business.id, direction }),
  );
  return { twiml, outcome: 'connected' };
}

/**
 * The call was answered with the fallback, but the cut-short work finished later and wrote the
 * call's token and meta: delete them, so no bridge warms a model session for a stream that will
 * never start (a claim for a call without meta is skipped) and the token is never accepted.
 */
async function forgetLateCall(deps: VoiceWebhookDeps, callSid: string, log: Logger): Promise<void> {
  try {
    await deps.redis.del(callKeys.token(callSid), callKeys.meta(callSid));
  } catch (err) {
    log.warn('late call state not deleted', errorFields(err));
  }
}

/**
 * The caller got the spoken fallback: the call is over before it began. Its row says so (on-call's
 * `calls failed` reads Postgres, which may well be up while Redis is not), and so does the timeline.
 * Postgres is often why the fallback was given (slow, failing over), so the row is tried again
 * (writeCallRow); Twilio already has its TwiML, nobody waits for this.
 */
async function recordFallbackCall(
  deps: VoiceWebhookDeps,
  params: VoiceWebhookParams,
  reason: FallbackReason,
  log: Logger,
): Promise<void> {
  const endReason = `fallback:webhook_${reason}`;
  const endedAt = new Date();
  const written = await writeCallRow(
    () =>
      deps.calls.recordWebhookFallback(params.CallSid, {
        direction: callDirection(params),
        from: params.From,
        to: params.To,
        endedAt,
        endReason,
      }),
    {
      logger: log,
      retried: () => deps.metrics.callRecordRetries.inc(),
      failed: () => deps.metrics.callRecordFailures.inc(),
    },
  );
  if (!written.ok)
    await deps.timeline.record(
      params.CallSid,
      'call.record_failed',
      { attempts: written.attempts, error: written.error },
      { level: 'error', logger: log },
    );
  await deps.timeline.record(
    params.CallSid,
    'call.ended',
    { end_reason: endReason, rx: 0, tx: 0, is_ghost: false, duration_ms: 0 },
    { logger: log },
  );
}

async function answerUnknownNumber(
  deps: VoiceWebhookDeps,
  params: { CallSid: string; From: string; To: string },
  direction: 'inbound' | 'outbound',
  businessNumber: string,
  log: Logger,
): Promise<void> {
  await Promise.all([
    deps.timeline.record(
      params.CallSid,
      'webhook.unknown_number',
      { number: businessNumber },
      { level: 'warn', logger: log },
    ),
    deps.calls.recordReceived({
      callSid: params.CallSid,
      businessId: null,
      direction,
      from: params.From,
      to: params.To,
      status: 'rejected',
    }),
  ]);
}
