/**
 * `Idempotency-Key` on POST /calls. A client that retries after a timeout or a
 * dropped connection must not dial the callee twice: the first request with a
 * key places the call, and its answer is kept for a day and replayed to every
 * later request with that key (`Idempotent-Replayed: true`); one that comes
 * while the first is still being placed gets 409. Answers that dialed nobody
 * (a bad request, no room, Twilio's refusal) are not kept, so the same key can
 * be tried again; an answer whose outcome is unknown (504: Twilio did not
 * answer) is kept, so a retry does not redial a callee whose phone may be
 * ringing. A request whose webhook died mid-placement is answered the same
 * 504 once IN_FLIGHT_SECONDS have passed: nobody knows whether Twilio dialed.
 * A key is answered only for the request it came with: the same key with
 * another callee or business is refused (422), so a client that reuses keys by
 * mistake learns it instead of being told about a call it did not ask for.
 * Keys are stored hashed, in Postgres (outbound_requests), so a Redis restart
 * does not forget them.
 */
import { createHash } from 'node:crypto';
import type { KeptAnswer, OutboundRequestRepository, OutboundRequestTimings } from '@voice/db';
import type { PlaceCallRequest } from './call-request.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** Kept this long: a client's retries come within minutes; a day covers a batch re-run. */
export const IDEMPOTENCY_KEEP_SECONDS = 24 * 3600;
/**
 * A request still being placed after this long has stopped (its webhook died): well past a
 * placement's longest run (Twilio's TWILIO_REST_TIMEOUT_MS, 10 s, and the bookkeeping).
 */
export const IN_FLIGHT_SECONDS = 120;
const MAX_KEY_LENGTH = 255;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** The answer for a key whose placement never finished: the call may or may not have been placed. */
export const ABANDONED_ANSWER: KeptAnswer = {
  status: 504,
  body: {
    error:
      'the request placing this call stopped before it learned whether Twilio dialed; the call may have been placed: do not redial without checking (or use a new Idempotency-Key)',
    outcome: 'unknown',
  },
};

const TIMINGS: OutboundRequestTimings = {
  keepSeconds: IDEMPOTENCY_KEEP_SECONDS,
  inFlightSeconds: IN_FLIGHT_SECONDS,
  abandonedAnswer: ABANDONED_ANSWER,
};

export type IdempotentStart =
  | { kind: 'new'; keep(answer: KeptAnswer): Promise<void>; forget(): Promise<void> }
  | { kind: 'replay'; answer: KeptAnswer; abandoned: boolean }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' };

/** Undefined: a usable key (or none). Otherwise what is wrong with it. */
export function keyProblem(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE.test(key))
    return `${IDEMPOTENCY_HEADER} must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`;
  return undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * What outbound_requests stores for a key: its hash, and the fingerprint of the request it is bound
 * to (who is called, and by which business, as the client named it).
 */
export function idempotencyHashes(key: string, request: PlaceCallRequest): { keyHash: string; requestHash: string } {
  return {
    keyHash: sha256(key),
    requestHash: sha256(JSON.stringify([request.to, request.from ?? null, request.businessId ?? null])),
  };
}

export async function startIdempotent(
  requests: OutboundRequestRepository,
  key: string,
  request: PlaceCallRequest,
): Promise<IdempotentStart> {
  const { keyHash, requestHash } = idempotencyHashes(key, request);
  const started = await requests.start(keyHash, requestHash, TIMINGS);
  if (started.kind !== 'new') return started;
  return {
    kind: 'new',
    keep: (answer) => requests.keep(keyHash, answer),
    forget: () => requests.forget(keyHash),
  };
}
