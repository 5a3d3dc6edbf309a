/**
 * POST /twilio/connect-action: Twilio's `<Connect action>`. The stream ended;
 * what now? A call whose gateway went away (killed, or drained for a deploy)
 * is still alive in Redis: its meta is there, a bridge owns it and holds the
 * model session (for GATEWAY_REATTACH_GRACE_MS), and nobody marked it ended.
 * It gets a fresh `<Connect><Stream>` with a new one-time token; the load
 * balancer sends that stream to a live gateway, which attaches it to the same
 * bridge. Anything else (the gateway or the bridge ended the stream on purpose,
 * the call is over, no bridge holds it, too many reconnects) gets the spoken
 * fallback and a hangup, as the verbs after `</Connect>` did before; except a
 * call the agent ended with end_call by closing the stream (its REST hangup
 * failed), which gets a bare hangup: the caller heard the goodbye. Redis
 * down, or not answering within VOICE_ANSWER_TIMEOUT_MS, is the fallback too
 * (`redis_down`, `timeout`): Twilio's own error is worse.
 */
import type { Request, Response } from 'express';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import {
  AGENT_HUNG_UP_MARKER,
  ENDED_ON_PURPOSE_TTL_SECONDS,
  callKeys,
  readCallMeta,
  type CallMeta,
  type RedisClient,
  type Timeline,
} from '@voice/redis';
import type { WebhookConfig } from '../config.js';
import type { WebhookMetrics } from '../metrics.js';
import { hangUpTwiml, sayAndHangUpTwiml, streamTwiml, streamTwimlFor } from '../twiml.js';
import { connected, withDeadline } from './answer-deadline.js';
import { newCallToken } from './call-token.js';
import { describeIssues, streamStatusParams } from './voice-params.js';

export type ActionReason =
  | 'alive'
  | 'agent_hangup'
  | 'ended_on_purpose'
  | 'call_over'
  | 'no_owner'
  | 'reconnects_exhausted'
  | 'redis_down'
  | 'timeout'
  | 'error';

export interface CallLiveness {
  meta: CallMeta | undefined;
  owner: string | null;
  endedOnPurpose: string | null;
}

/** Why a stream that ended may not be reconnected, or undefined when it may. */
export function refusalReason(
  live: CallLiveness,
): Exclude<ActionReason, 'alive' | 'reconnects_exhausted' | 'redis_down' | 'timeout' | 'error'> | undefined {
  if (live.endedOnPurpose === AGENT_HUNG_UP_MARKER) return 'agent_hangup';
  if (live.endedOnPurpose !== null) return 'ended_on_purpose';
  if (!live.meta) return 'call_over';
  if (!live.owner) return 'no_owner';
  return undefined;
}

export interface ConnectActionDeps {
  config: Pick<
    WebhookConfig,
    | 'publicBaseUrl'
    | 'publicStreamUrl'
    | 'callTokenTtlSeconds'
    | 'maxStreamReconnects'
    | 'messages'
    | 'answerTimeoutMs'
    | 'redisReadyWaitMs'
  >;
  redis: RedisClient;
  timeline: Timeline;
  metrics: WebhookMetrics;
  logger: Logger;
}

export function connectActionHandler(deps: ConnectActionDeps) {
  return async (req: Request, res: Response) => {
    // Only the standard call parameters are relied on (the noun-specific ones are not documented).
    const parsed = streamStatusParams.pick({ CallSid: true }).safeParse(req.body ?? {});
    if (!parsed.success) {
      res
        .status(400)
        .type('text/plain')
        .send(`Invalid <Connect action> request: ${describeIssues(parsed.error)}\n`);
      return;
    }
    const callSid = parsed.data.CallSid;
    const log = deps.logger.child({ callSid });
    const fallback = (reason: ActionReason, attempt?: number) => {
      deps.metrics.connectActions.inc({ decision: 'fallback', reason });
      void deps.timeline.record(
        callSid,
        'stream.action',
        { decision: 'fallback', reason, attempt },
        { level: reason === 'ended_on_purpose' || reason === 'call_over' ? 'info' : 'warn', logger: log },
      );
      res.type('text/xml').send(sayAndHangUpTwiml(deps.config.messages.fallback));
    };
    const hangUp = (reason: ActionReason) => {
      deps.metrics.connectActions.inc({ decision: 'hangup', reason });
      void deps.timeline.record(callSid, 'stream.action', { decision: 'hangup', reason }, { logger: log });
      res.type('text/xml').send(hangUpTwiml());
    };
    try {
      // Twilio waits on this answer with the caller on the line (answer-deadline.ts).
      if (!(await connected(deps.redis, deps.config.redisReadyWaitMs))) return fallback('redis_down');
      const work = decide(deps, callSid);
      const decision = await withDeadline(work, deps.config.answerTimeoutMs);
      if (decision === undefined) {
        // The caller gets the fallback; a reconnect decided late (its mark, its token) must not be
        // what the bridge holding the call reads when its grace runs out.
        void work
          .catch(() => undefined)
          .then(() => markLastAction(deps, callSid, 'fallback:timeout'))
          .catch((markErr: unknown) =>
            log.warn('connect action: the late fallback could not be marked for the bridge', errorFields(markErr)),
          );
        return fallback('timeout');
      }
      if (decision.kind === 'hangup') return hangUp(decision.reason);
      if (decision.kind === 'fallback') return fallback(decision.reason, decision.attempt);
      deps.metrics.connectActions.inc({ decision: 'reconnect', reason: 'alive' });
      void deps.timeline.record(
        callSid,
        'stream.action',
        { decision: 'reconnect', reason: 'alive', attempt: decision.attempt, owner: decision.owner },
        { level: 'warn', logger: log },
      );
      res.type('text/xml').send(decision.twiml);
    } catch (err) {
      // Redis is down: the caller still hears a message, not Twilio's error tone.
      log.error('connect action failed', errorFields(err));
      fallback('error');
      // Tried anyway (one command may fail where the next gets through): the bridge holding the call
      // must not take the hangup after this fallback for an ordinary one. If Redis is down, it does.
      markLastAction(deps, callSid, 'fallback:error').catch((markErr: unknown) =>
        log.warn('connect action: the fallback could not be marked for the bridge', errorFields(markErr)),
      );
    }
  };
}

type Decision =
  | { kind: 'reconnect'; twiml: string; attempt: number; owner: string | null }
  | { kind: 'hangup'; reason: ActionReason }
  | { kind: 'fallback'; reason: ActionReason; attempt?: number };

/** What to answer: read the call's state in Redis and, for a call still alive, give it a new stream. */
async function decide(deps: ConnectActionDeps, callSid: string): Promise<Decision> {
  const { redis } = deps;
  const [meta, owner, endedOnPurpose] = await Promise.all([
    readCallMeta(redis, callSid),
    redis.get(callKeys.owner(callSid)),
    redis.get(callKeys.endedOnPurpose(callSid)),
  ]);
  const refused = refusalReason({ meta, owner, endedOnPurpose });
  if (refused === 'agent_hangup') return { kind: 'hangup', reason: refused };
  if (refused || !meta) return { kind: 'fallback', reason: refused ?? 'call_over' };
  const attempt = await redis.incr(callKeys.reconnects(callSid));
  if (attempt > deps.config.maxStreamReconnects) {
    // The owning bridge still waits out its reattach grace: this caller hears the fallback, so
    // the hangup that follows is not an ordinary one (the bridge reads this when the grace ends).
    await markLastAction(deps, callSid, 'fallback:reconnects_exhausted');
    return { kind: 'fallback', reason: 'reconnects_exhausted', attempt };
  }
  const callToken = newCallToken();
  await Promise.all([
    redis.set(callKeys.token(callSid), callToken, 'EX', deps.config.callTokenTtlSeconds),
    markLastAction(deps, callSid, 'reconnect'),
  ]);
  const twiml = streamTwiml(
    streamTwimlFor(deps.config, callSid, { callToken, businessId: meta.businessId, direction: meta.direction }),
  );
  return { kind: 'reconnect', twiml, attempt, owner };
}

/** What the webhook answered, for the bridge that holds the call (`call:{CA}:action`). */
function markLastAction(deps: Pick<ConnectActionDeps, 'redis'>, callSid: string, decision: string): Promise<unknown> {
  return deps.redis.set(callKeys.lastAction(callSid), decision, 'EX', ENDED_ON_PURPOSE_TTL_SECONDS);
}
