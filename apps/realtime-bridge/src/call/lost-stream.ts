/**
 * A call whose stream went away and did not come back within the reattach
 * grace: was that ours, or did the caller just hang up while it was down?
 *
 * `gateway_lost` reads as our fault (the on-call CLI lists it with the faults).
 * But a Twilio connection can break (a load balancer restart, a network fault)
 * and the caller hang up before the reconnect: Twilio then posts no
 * `<Connect action>` and nothing reaches us. Only Twilio knows, so when the
 * grace runs out the bridge asks its REST API for the call's status. Completed
 * means the caller (or Twilio) hung up, unless the webhook had answered the
 * action with the spoken fallback (`call:{CA}:action`): that caller heard our
 * failure first. Without REST credentials, or when Twilio does not answer in
 * time, the call stays `gateway_lost`.
 */
import { errorFields, type Logger } from '@voice/logging';
import { callKeys, type RedisClient } from '@voice/redis';
import type { CallControl } from '../twilio/call-control.js';
import type { CallTimeline } from './call-timeline.js';

export const GATEWAY_LOST = 'gateway_lost';
export const HANGUP_DURING_RECONNECT = 'caller_hangup_during_reconnect';
export type LostStreamReason = typeof GATEWAY_LOST | typeof HANGUP_DURING_RECONNECT;

/** Twilio's REST API answers in well under a second; a call's finalize should not wait on it longer. */
export const TWILIO_STATUS_TIMEOUT_MS = 3000;

/** The decision itself: Twilio's status of the call (undefined: unknown) and the webhook's last action answer. */
export function lostStreamReason(twilioStatus: string | undefined, lastAction: string | null): LostStreamReason {
  if (twilioStatus !== 'completed') return GATEWAY_LOST;
  // The webhook gave the caller the spoken fallback: the hangup came after our failure.
  if (lastAction?.startsWith('fallback:')) return GATEWAY_LOST;
  return HANGUP_DURING_RECONNECT;
}

export interface LostStreamDeps {
  callSid: string;
  callControl: CallControl | undefined;
  redis: RedisClient;
  tl: CallTimeline;
  logger: Logger;
}

/** Asks Twilio (when the bridge can) and records what it said: `twilio.call_status source=reattach_grace`. */
export async function classifyLostStream(deps: LostStreamDeps): Promise<LostStreamReason> {
  const { callControl } = deps;
  if (!callControl) return GATEWAY_LOST;
  const [status, lastAction] = await Promise.all([
    withTimeout(callControl.status(deps.callSid), TWILIO_STATUS_TIMEOUT_MS).catch((err: unknown) => {
      deps.logger.warn('could not ask Twilio whether the call is still up', errorFields(err));
      return undefined;
    }),
    deps.redis.get(callKeys.lastAction(deps.callSid)).catch(() => null),
  ]);
  const reason = lostStreamReason(status, lastAction);
  await deps.tl.record(
    'twilio.call_status',
    {
      call_status: status ?? 'unknown',
      source: 'reattach_grace',
      last_action: lastAction ?? 'none',
      end_reason: reason,
    },
    reason === GATEWAY_LOST ? 'warn' : 'info',
  );
  return reason;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
