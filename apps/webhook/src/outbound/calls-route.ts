/**
 * POST /calls, the business API: `Authorization: Bearer <API_TOKEN>` (checked
 * before this handler), JSON `{"to": "+E164", "from": "+E164"}` or
 * `{"to", "businessId"}` → 201 `{"callSid": "CA…"}`. Errors are JSON
 * `{error, field?}`: 400 names the bad field, 404 unknown business, 409 a
 * business with no number (or a request with the same Idempotency-Key still
 * being placed), 422 an Idempotency-Key already used for another request,
 * 502 Twilio refused (its own code and message) or could not be reached
 * (nobody dialed), 503 with Retry-After no bridge has room (nobody dialed), 504
 * Twilio did not answer in time (`outcome: "unknown"`: the callee may be
 * ringing; do not simply redial). An optional `Idempotency-Key` header makes
 * retries safe (idempotency.ts).
 */
import type { NextFunction, Request, Response } from 'express';
import type { OutboundRequestRepository } from '@voice/db';
import { errorFields } from '@voice/logging';
import type { Counter } from 'prom-client';
import { firstProblem, placeCallRequest, type PlaceCallRequest } from './call-request.js';
import { IDEMPOTENCY_HEADER, keyProblem, startIdempotent, type IdempotentStart } from './idempotency.js';
import {
  NoBusinessNumberError,
  NoRoomError,
  RoomUnknownError,
  TwilioRefusedError,
  TwilioUnreachableError,
  UnknownBusinessError,
  placeOutboundCall,
  type PlaceCallDeps,
} from './place-call.js';

export type OutboundOutcome =
  | 'placed'
  | 'bad_request'
  | 'unknown_business'
  | 'no_number'
  | 'no_room'
  | 'room_unknown'
  | 'twilio_refused'
  | 'twilio_unreachable'
  | 'twilio_no_answer'
  | 'replayed'
  | 'in_flight'
  | 'key_reused'
  | 'error';

/** Answers kept for an Idempotency-Key: a call placed, or one that may have been. Others dialed nobody. */
const KEPT_STATUSES: readonly number[] = [201, 504];

export function placeCallHandler(
  deps: PlaceCallDeps & {
    outcomes: Counter<'outcome'>;
    noRoomRetryAfterSeconds: number;
    /** Where Idempotency-Keys and their answers are kept (Postgres). */
    requests: OutboundRequestRepository;
  },
) {
  const done = (res: Response, outcome: OutboundOutcome, status: number, body: unknown) => {
    deps.outcomes.inc({ outcome });
    res.status(status).json(body);
  };
  return async (req: Request, res: Response) => {
    const key = req.get(IDEMPOTENCY_HEADER);
    const badKey = keyProblem(key);
    if (badKey) return done(res, 'bad_request', 400, { error: badKey, field: IDEMPOTENCY_HEADER });
    const parsed = placeCallRequest.safeParse(req.body);
    if (!parsed.success) {
      const problem = firstProblem(parsed.error);
      return done(res, 'bad_request', 400, { error: problem.message, field: problem.field });
    }
    let started: IdempotentStart | undefined;
    try {
      started = key === undefined ? undefined : await startIdempotent(deps.requests, key, parsed.data);
    } catch (err) {
      deps.logger.error('Idempotency-Key not checked (Postgres); nobody dialed', errorFields(err));
      return done(res, 'error', 503, { error: 'could not check the Idempotency-Key; nobody was dialed, try again' });
    }
    if (started?.kind === 'in_flight')
      return done(res, 'in_flight', 409, {
        error: `a request with this ${IDEMPOTENCY_HEADER} is still being placed; ask again in a few seconds`,
        field: IDEMPOTENCY_HEADER,
      });
    if (started?.kind === 'mismatch')
      return done(res, 'key_reused', 422, {
        error: `this ${IDEMPOTENCY_HEADER} was used for another request (another callee or business); nobody was dialed: use a new key for a new call`,
        field: IDEMPOTENCY_HEADER,
      });
    if (started?.kind === 'replay') {
      if (started.abandoned)
        deps.logger.error(
          'a POST /calls with this Idempotency-Key never finished (its webhook stopped); answered 504, outcome unknown',
        );
      res.set('Idempotent-Replayed', 'true');
      return done(res, 'replayed', started.answer.status, started.answer.body);
    }
    const slot = started;
    // The answer, kept for the key when it dialed someone (or may have); forgotten otherwise. Settled
    // before the client hears it, so a retry that follows the answer always finds it.
    const answer = async (outcome: OutboundOutcome, status: number, body: unknown) => {
      if (slot) {
        const kept = KEPT_STATUSES.includes(status);
        await (kept ? slot.keep({ status, body }) : slot.forget()).catch((err: unknown) =>
          deps.logger.error(
            // Either way the key stays in flight: retries get 409, then 504 outcome unknown once
            // IN_FLIGHT_SECONDS have passed. They never dial again.
            kept
              ? 'Idempotency-Key answer not stored; retries get 409, then 504 outcome unknown'
              : 'Idempotency-Key not released though nobody was dialed; retries get 409, then 504 outcome unknown: use a new key',
            errorFields(err),
          ),
        );
      }
      done(res, outcome, status, body);
    };
    await placeAndAnswer(deps, parsed.data, res, answer);
  };
}

/** Places the call and answers with what happened (through `answer`, which also settles the key). */
async function placeAndAnswer(
  deps: PlaceCallDeps & { noRoomRetryAfterSeconds: number },
  request: PlaceCallRequest,
  res: Response,
  answer: (outcome: OutboundOutcome, status: number, body: unknown) => Promise<void>,
): Promise<void> {
  let placed: Awaited<ReturnType<typeof placeOutboundCall>>;
  try {
    placed = await placeOutboundCall(deps, request);
  } catch (err) {
    if (err instanceof UnknownBusinessError)
      return answer('unknown_business', 404, { error: err.message, field: err.field });
    if (err instanceof NoBusinessNumberError)
      return answer('no_number', 409, { error: err.message, field: 'businessId' });
    if (err instanceof NoRoomError) {
      deps.logger.warn('outbound call refused: no bridge has room', { spare: err.spare, reserved: err.reserved });
      res.set('Retry-After', String(deps.noRoomRetryAfterSeconds));
      return answer('no_room', 503, {
        error: err.message,
        retryAfterSeconds: deps.noRoomRetryAfterSeconds,
        room: { spare: err.spare, reserved: err.reserved },
      });
    }
    if (err instanceof RoomUnknownError) {
      deps.logger.error('outbound call refused: the room check failed', errorFields(err));
      res.set('Retry-After', String(deps.noRoomRetryAfterSeconds));
      return answer('room_unknown', 503, { error: err.message, retryAfterSeconds: deps.noRoomRetryAfterSeconds });
    }
    if (err instanceof TwilioRefusedError) {
      deps.logger.warn('twilio refused the outbound call', {
        to: request.to,
        twilioStatus: err.twilioStatus,
        code: err.code,
        message: err.message,
      });
      return answer('twilio_refused', 502, {
        error: `Twilio refused the call: ${err.message}`,
        twilio: { status: err.twilioStatus, code: err.code, message: err.message, more_info: err.moreInfo },
      });
    }
    if (err instanceof TwilioUnreachableError && err.maybePlaced) {
      deps.logger.error('twilio did not answer an outbound call request: it may have been placed', errorFields(err));
      return answer('twilio_no_answer', 504, {
        error: `${err.message}; the call may have been placed: do not redial without checking (or retry with the same ${IDEMPOTENCY_HEADER})`,
        outcome: 'unknown',
      });
    }
    if (err instanceof TwilioUnreachableError) {
      deps.logger.error('twilio unreachable for an outbound call', errorFields(err));
      return answer('twilio_unreachable', 502, { error: `${err.message}; nobody was dialed` });
    }
    deps.logger.error('placing an outbound call failed', errorFields(err));
    return answer('error', 500, { error: 'placing the call failed; see the webhook logs' });
  }
  return answer('placed', 201, placed);
}

/** body-parser's errors (bad JSON, too large) as the API's JSON errors instead of express's HTML page. */
export function apiBodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const type = (err as { type?: string } | undefined)?.type;
  if (type === 'entity.parse.failed') res.status(400).json({ error: 'body is not valid JSON', field: 'body' });
  else if (type === 'entity.too.large') res.status(413).json({ error: 'body too large', field: 'body' });
  else next(err);
}
