/**
 * `call:{CA}:meta`: what the webhook learned about a call, for the gateway (is
 * this socket a real call?) and the bridge (which business, which direction),
 * plus the path of its greeting once a bridge greets: a bridge the call moves to
 * reports the greeting the caller heard, not its own resumed session.
 */
import type { RedisClient } from './connection.js';
import { callKeys } from './keys.js';

export type CallDirection = 'inbound' | 'outbound';

export interface CallMeta {
  callSid: string;
  businessId: string;
  direction: CallDirection;
  from: string;
  to: string;
  /** Epoch ms the webhook answered. */
  receivedAt: number;
  /** How the call was greeted (warm: prepared while it rang; cold: after START), once a bridge did. */
  greetingPath?: GreetingPath;
}

export type GreetingPath = 'warm' | 'cold';

export const CALL_META_TTL_SECONDS = 2 * 3600;

export async function writeCallMeta(
  redis: RedisClient,
  meta: CallMeta,
  ttlSeconds = CALL_META_TTL_SECONDS,
): Promise<void> {
  const key = callKeys.meta(meta.callSid);
  // Two commands, not a MULTI (four): the TTL is a safety net for a call nobody finalizes, and
  // a lost EXPIRE leaves a small hash the call's end deletes anyway.
  await Promise.all([
    redis.hset(key, {
      businessId: meta.businessId,
      direction: meta.direction,
      from: meta.from,
      to: meta.to,
      receivedAt: String(meta.receivedAt),
    }),
    redis.expire(key, ttlSeconds),
  ]);
}

export async function readCallMeta(redis: RedisClient, callSid: string): Promise<CallMeta | undefined> {
  const h = await redis.hgetall(callKeys.meta(callSid));
  if (!h.businessId) return undefined;
  return {
    callSid,
    businessId: h.businessId,
    direction: h.direction === 'outbound' ? 'outbound' : 'inbound',
    from: h.from ?? '',
    to: h.to ?? '',
    receivedAt: Number(h.receivedAt ?? 0),
    ...(h.greetingPath === 'warm' || h.greetingPath === 'cold' ? { greetingPath: h.greetingPath } : {}),
  };
}

/**
 * Sets the field only on a meta that still exists: a plain HSET on a meta the call's end had
 * already deleted (or its TTL removed) would create a hash of one field with no TTL, left in
 * Redis for ever. One command (a script on the one key, so a Redis Cluster takes it too).
 */
const SET_IF_META_EXISTS_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/** A bridge greets the call this way; false when the call's meta was already gone (nothing written). */
export async function recordGreetingPath(redis: RedisClient, callSid: string, path: GreetingPath): Promise<boolean> {
  const set = await redis.eval(SET_IF_META_EXISTS_SCRIPT, 1, callKeys.meta(callSid), 'greetingPath', path);
  return set === 1;
}
