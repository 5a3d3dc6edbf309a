/**
 * POST /twilio/voice: Twilio asks what to do with a call. Everything needed to
 * answer is done at once (business lookup, call token, call record, prebuild
 * job, timeline), then TwiML connects the call to the media gateway.
 */
import type { Request, Response } from 'express';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { callKeys, writeCallMeta, type Timeline, type RedisClient } from '@voice/redis';
import type { WebhookConfig } from '../config.js';
import type { WebhookMetrics } from '../metrics.js';
import type { PrebuildQueue } from '../prebuild/prebuild-queue.js';
import { sayAndHangUpTwiml, streamTwiml, streamTwimlFor } from '../twiml.js';
import { newCallToken } from './call-token.js';
import { callDirection, describeIssues, voiceWebhookParams } from './voice-params.js';

export interface VoiceWebhookDeps {
  config: WebhookConfig;
  redis: RedisClient;
  businesses: BusinessRepository;
  calls: CallRepository;
  queue: PrebuildQueue;
  timeline: Timeline;
  metrics: WebhookMetrics;
  logger: Logger;
}

export function voiceWebhookHandler(deps: VoiceWebhookDeps) {
  return async (req: Request, res: Response) => {
    const started = performance.now();
    const parsed = voiceWebhookParams.safeParse(req.body ?? {});
    if (!parsed.success) {
      deps.metrics.voiceWebhooks.inc({ outcome: 'bad_request' });
      res.status(400).type('text/plain').send(`Invalid voice webhook: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const params = parsed.data;
    const direction = callDirection(params);
    const businessNumber = direction === 'inbound' ? params.To : params.From;
    const log = deps.logger.child({ callSid: params.CallSid });
    try {
      await deps.timeline.record(params.CallSid, 'webhook.received', { from: params.From, to: params.To, direction }, { logger: log });
      const business = await deps.businesses.findByPhoneNumber(businessNumber);
      if (!business) {
        await answerUnknownNumber(deps, params, direction, businessNumber, log);
        res.type('text/xml').send(sayAndHangUpTwiml(deps.config.messages.unknownNumber));
        deps.metrics.voiceWebhooks.inc({ outcome: 'unknown_number' });
        return;
      }
      const callToken = newCallToken();
      const receivedAt = Date.now();
      // The calls row (status received) also arms the stream watchdog (watchdog/stream-watchdog.ts).
      const [, , , fresh] = await Promise.all([
        deps.redis.set(callKeys.token(params.CallSid), callToken, 'EX', deps.config.callTokenTtlSeconds),
        writeCallMeta(deps.redis, { callSid: params.CallSid, businessId: business.id, direction, from: params.From, to: params.To, receivedAt }),
        deps.calls.recordReceived({ callSid: params.CallSid, businessId: business.id, direction, from: params.From, to: params.To, status: 'received' }),
        deps.queue.enqueue({ callSid: params.CallSid, businessId: business.id, direction, enqueuedAt: receivedAt }),
      ]);
      await deps.timeline.record(params.CallSid, 'prebuild.enqueued', { job_id: params.CallSid, duplicate: !fresh }, { logger: log });
      res.type('text/xml').send(streamTwiml(streamTwimlFor(deps.config, params.CallSid, { callToken, businessId: business.id, direction })));
      deps.metrics.voiceWebhooks.inc({ outcome: 'connected' });
    } catch (err) {
      // Redis or Postgres is down: the caller still hears a message instead of Twilio's error tone.
      log.error('voice webhook failed', errorFields(err));
      deps.metrics.voiceWebhooks.inc({ outcome: 'error' });
      res.type('text/xml').send(sayAndHangUpTwiml(deps.config.messages.fallback));
    } finally {
      deps.metrics.answerMs.observe(performance.now() - started);
    }
  };
}

async function answerUnknownNumber(
  deps: VoiceWebhookDeps,
  params: { CallSid: string; From: string; To: string },
  direction: 'inbound' | 'outbound',
  businessNumber: string,
  log: Logger,
): Promise<void> {
  await Promise.all([
    deps.timeline.record(params.CallSid, 'webhook.unknown_number', { number: businessNumber }, { level: 'warn', logger: log }),
    deps.calls.recordReceived({ callSid: params.CallSid, businessId: null, direction, from: params.From, to: params.To, status: 'rejected' }),
  ]);
}
