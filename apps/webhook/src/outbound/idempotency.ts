/**
 * `Idempotency-Key` on POST /calls. A client that retries after a timeout or a
 * dropped connection must not dial the callee twice: the first request with a
 * key places the call, and its answer is kept for a day and replayed to every
 * later request with that key (`Idempotent-Replayed: true`); one that comes
 * while the first is still being placed gets 409. Answers that dialed nobody
 * (a bad request, no room, Twilio's refusal) are not kept, so the same key can
 * be tried again; an answer whose outcome is unknown (504: Twilio did not
 * answer) is kept, so a retry does not redial a callee whose phone may be
 * ringing. The key is stored hashed.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '@voice/redis';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Kept this long: a client's retries come within minutes; a day covers a batch re-run. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/**
 * The in-flight marker lasts this long at most: well past a placement's longest run (Twilio's
 * TWILIO_REST_TIMEOUT_MS, 10 s, and the bookkeeping), so a webhook that died mid-placement does not
 * answer the key 409 for a day.
 */
export const IN_FLIGHT_TTL_SECONDS = 120;
const MAX_KEY_LENGTH = 255;
const PRINTABLE = /^[\x21-\x7e]+$/;
const IN_FLIGHT = 'in_flight';

export interface KeptAnswer {
  status: number;
  body: unknown;
}

export type IdempotentStart =
  | { kind: 'new'; keep(answer: KeptAnswer): Promise<void>; forget(): Promise<void> }
  | { kind: 'replay'; answer: KeptAnswer }
  | { kind: 'in_flight' };

/** Undefined: a usable key (or none). Otherwise what is wrong with it. */
export function keyProblem(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE.test(key))
    return `${IDEMPOTENCY_HEADER} must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`;
  return undefined;
}

export async function startIdempotent(
  redis: RedisClient,
  redisKeyFor: (keyHash: string) => string,
  key: string,
): Promise<IdempotentStart> {
  const redisKey = redisKeyFor(createHash('sha256').update(key).digest('hex'));
  if ((await redis.set(redisKey, IN_FLIGHT, 'EX', IN_FLIGHT_TTL_SECONDS, 'NX')) === 'OK') {
    return {
      kind: 'new',
      keep: async (answer) => {
        await redis.set(redisKey, JSON.stringify(answer), 'EX', IDEMPOTENCY_TTL_SECONDS);
      },
      forget: async () => {
        await redis.del(redisKey);
      },
    };
  }
  const kept = await redis.get(redisKey);
  // Gone between the two commands (forgotten by a request that dialed nobody): that one is over.
  if (kept === null) return startIdempotent(redis, redisKeyFor, key);
  if (kept === IN_FLIGHT) return { kind: 'in_flight' };
  return { kind: 'replay', answer: JSON.parse(kept) as KeptAnswer };
}
