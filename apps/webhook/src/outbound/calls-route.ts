/**
 * POST /calls, the business API: `Authorization: Bearer <API_TOKEN>` (checked
 * before this handler), JSON `{"to": "+E164", "from": "+E164"}` or
 * `{"to", "businessId"}` → 201 `{"callSid": "CA…"}`. Errors are JSON
 * `{error, field?}`: 400 names the bad field, 404 unknown business, 409 a
 * business with no number, 502 Twilio refused (its own code and message) or
 * could not be reached, 503 with Retry-After no bridge has room (nobody dialed).
 */
import type { NextFunction, Request, Response } from 'express';
import { errorFields } from '@voice/logging';
import type { Counter } from 'prom-client';
import { firstProblem, placeCallRequest } from './call-request.js';
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
  | 'error';

export function placeCallHandler(
  deps: PlaceCallDeps & { outcomes: Counter<'outcome'>; noRoomRetryAfterSeconds: number },
) {
  const done = (res: Response, outcome: OutboundOutcome, status: number, body: unknown) => {
    deps.outcomes.inc({ outcome });
    res.status(status).json(body);
  };
  return async (req: Request, res: Response) => {
    const parsed = placeCallRequest.safeParse(req.body);
    if (!parsed.success) {
      const problem = firstProblem(parsed.error);
      return done(res, 'bad_request', 400, { error: problem.message, field: problem.field });
    }
    try {
      const placed = await placeOutboundCall(deps, parsed.data);
      done(res, 'placed', 201, placed);
    } catch (err) {
      if (err instanceof UnknownBusinessError)
        return done(res, 'unknown_business', 404, { error: err.message, field: err.field });
      if (err instanceof NoBusinessNumberError)
        return done(res, 'no_number', 409, { error: err.message, field: 'businessId' });
      if (err instanceof NoRoomError) {
        deps.logger.warn('outbound call refused: no bridge has room', { spare: err.spare, reserved: err.reserved });
        res.set('Retry-After', String(deps.noRoomRetryAfterSeconds));
        return done(res, 'no_room', 503, {
          error: err.message,
          retryAfterSeconds: deps.noRoomRetryAfterSeconds,
          room: { spare: err.spare, reserved: err.reserved },
        });
      }
      if (err instanceof RoomUnknownError) {
        deps.logger.error('outbound call refused: the room check failed', errorFields(err));
        res.set('Retry-After', String(deps.noRoomRetryAfterSeconds));
        return done(res, 'room_unknown', 503, { error: err.message, retryAfterSeconds: deps.noRoomRetryAfterSeconds });
      }
      if (err instanceof TwilioRefusedError) {
        deps.logger.warn('twilio refused the outbound call', {
          to: parsed.data.to,
          twilioStatus: err.twilioStatus,
          code: err.code,
          message: err.message,
        });
        return done(res, 'twilio_refused', 502, {
          error: `Twilio refused the call: ${err.message}`,
          twilio: { status: err.twilioStatus, code: err.code, message: err.message, more_info: err.moreInfo },
        });
      }
      if (err instanceof TwilioUnreachableError) {
        deps.logger.error('twilio unreachable for an outbound call', errorFields(err));
        return done(res, 'twilio_unreachable', 502, { error: err.message });
      }
      deps.logger.error('placing an outbound call failed', errorFields(err));
      done(res, 'error', 500, { error: 'placing the call failed; see the webhook logs' });
    }
  };
}

/** body-parser's errors (bad JSON, too large) as the API's JSON errors instead of express's HTML page. */
export function apiBodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const type = (err as { type?: string } | undefined)?.type;
  if (type === 'entity.parse.failed') res.status(400).json({ error: 'body is not valid JSON', field: 'body' });
  else if (type === 'entity.too.large') res.status(413).json({ error: 'body too large', field: 'body' });
  else next(err);
}
