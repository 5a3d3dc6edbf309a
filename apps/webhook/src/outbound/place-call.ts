/**
 * Places an outbound call: finds the business, asks Twilio to dial (the twilio
 * SDK's calls.create with a status callback and asynchronous answering machine
 * detection), then prebuilds the call while it rings, exactly as the voice
 * webhook does for an inbound call: the meta (direction outbound), the calls row
 * (status placed) and the prebuild job, whose worker writes the prompt (the
 * business's outbound_ai_prompt) and offers the call to the bridges for a warm
 * session. When the callee answers, Twilio posts the ordinary voice webhook
 * (Direction=outbound-api) for the same CallSid; it finds all of this in place
 * (its writes are idempotent) and the agent greets from the warm session.
 *
 * Before dialing, the call takes a place in the bridges' spare room (OutboundRoom):
 * with none, nobody is dialed (NoRoomError, 503), rather than a callee answering
 * to the busy message.
 */
import type { Business, BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { writeCallMeta, type OutboundRoom, type RedisClient, type Reservation, type Timeline } from '@voice/redis';
import type { Prebuilder } from '../prebuild/prebuilder.js';
import { twilioRefusal, type TwilioClient } from '@voice/protocols/twilio-rest';
import type { PlaceCallRequest } from './call-request.js';
import { OUTBOUND_PATHS } from './paths.js';

export interface OutboundSettings {
  publicBaseUrl: string;
  ringTimeoutSeconds: number;
  machineDetectionTimeoutSeconds: number;
}

export interface PlaceCallDeps {
  settings: OutboundSettings;
  twilio: TwilioClient;
  redis: RedisClient;
  businesses: BusinessRepository;
  calls: CallRepository;
  prebuilder: Prebuilder;
  timeline: Timeline;
  logger: Logger;
  /** Undefined: calls are placed whatever the bridges' load (OUTBOUND_REQUIRE_ROOM=false). */
  room?: OutboundRoom;
}

/** No business has the `from` number, or no business has the id (404). */
export class UnknownBusinessError extends Error {
  override name = 'UnknownBusinessError';
  constructor(
    readonly field: 'from' | 'businessId',
    value: string,
  ) {
    super(field === 'from' ? `no business has the number ${value}` : `no business has the id ${value}`);
  }
}

/** The business has no phone number to call from (409). */
export class NoBusinessNumberError extends Error {
  override name = 'NoBusinessNumberError';
  constructor(businessId: string) {
    super(`business ${businessId} has no phone number to call from; add one to business_phone_numbers`);
  }
}

/** Twilio's REST API refused the call (502 with Twilio's own code and message). */
export class TwilioRefusedError extends Error {
  override name = 'TwilioRefusedError';
  constructor(
    readonly twilioStatus: number,
    readonly code: number | undefined,
    twilioMessage: string,
    readonly moreInfo: string | undefined,
  ) {
    super(twilioMessage);
  }
}

/** Twilio's REST API could not be reached or did not answer in time (502). */
/** Network errors that prove the request never reached Twilio: nobody was dialed. */
const NOT_SENT_CODES: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'];

export class TwilioUnreachableError extends Error {
  override name = 'TwilioUnreachableError';
  /** The request may have reached Twilio (a timeout, a connection cut): the callee may be ringing (504). */
  readonly maybePlaced: boolean;
  constructor(cause: unknown) {
    super(`Twilio REST API unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.maybePlaced = !(typeof code === 'string' && NOT_SENT_CODES.includes(code));
  }
}

/** No live bridge has room for another call now (503 with Retry-After); nobody was dialed. */
export class NoRoomError extends Error {
  override name = 'NoRoomError';
  constructor(
    readonly spare: number,
    readonly reserved: number,
  ) {
    super(
      spare === 0
        ? 'no bridge has room for another call (none is live, or all are full or draining); nobody was dialed'
        : `the ${spare} free place(s) on the bridges are held by calls still ringing; nobody was dialed`,
    );
  }
}

/** The room check could not be made (Redis unreachable): nobody was dialed (503). */
export class RoomUnknownError extends Error {
  override name = 'RoomUnknownError';
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`could not check the bridges' room (${why}); nobody was dialed`, { cause });
  }
}

/** What Twilio reports through the status callback; the rest of the progress is in the timeline. */
const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];
/**
 * DetectMessageEnd: Twilio reports a machine once its greeting has ended (machine_end_beep, _silence,
 * _other), the moment to leave a message; a human is reported as soon as it is detected.
 */
const MACHINE_DETECTION = 'DetectMessageEnd';

export async function placeOutboundCall(
  deps: PlaceCallDeps,
  request: PlaceCallRequest,
): Promise<{ callSid: string; from: string; businessId: string }> {
  const { business, from } = await resolveCaller(deps.businesses, request);
  const reservation = await reserveRoom(deps.room);
  const base = deps.settings.publicBaseUrl;
  const started = performance.now();
  let callSid: string;
  try {
    const call = await deps.twilio.calls.create({
      to: request.to,
      from,
      url: base + OUTBOUND_PATHS.voice,
      method: 'POST',
      statusCallback: base + OUTBOUND_PATHS.callStatus,
      statusCallbackMethod: 'POST',
      statusCallbackEvent: STATUS_EVENTS,
      timeout: deps.settings.ringTimeoutSeconds,
      machineDetection: MACHINE_DETECTION,
      machineDetectionTimeout: deps.settings.machineDetectionTimeoutSeconds,
      asyncAmd: 'true',
      asyncAmdStatusCallback: base + OUTBOUND_PATHS.amdStatus,
      asyncAmdStatusCallbackMethod: 'POST',
    });
    callSid = call.sid;
  } catch (err) {
    const refusal = twilioRefusal(err);
    const failure = refusal
      ? new TwilioRefusedError(refusal.status, refusal.code, refusal.message, refusal.moreInfo)
      : new TwilioUnreachableError(err);
    // A call that may be ringing keeps its room until the reservation expires; one surely not placed gives it back.
    const maybePlaced = failure instanceof TwilioUnreachableError && failure.maybePlaced;
    if (!maybePlaced) await reservation?.release().catch(() => undefined); // it expires anyway
    throw failure;
  }
  const twilioMs = performance.now() - started;
  const log = deps.logger.child({ callSid });
  // Under its CallSid, which the bridge that takes the call removes (before the prebuild can offer it).
  await reservation
    ?.placed(callSid)
    .catch((err: unknown) => log.warn('outbound room reservation not renamed; it expires', errorFields(err)));
  await deps.timeline.record(
    callSid,
    'outbound.placed',
    { from, to: request.to, business_id: business.id, twilio_ms: twilioMs },
    { logger: log },
  );
  await prebuildWhileRinging(deps, { callSid, business, from, to: request.to }, log);
  return { callSid, from, businessId: business.id };
}

/**
 * The call is placed whatever happens here: if Redis or Postgres fails now, the voice webhook
 * still serves the answer (cold), so this logs instead of failing the request.
 */
async function prebuildWhileRinging(
  deps: PlaceCallDeps,
  call: { callSid: string; business: Business; from: string; to: string },
  log: Logger,
): Promise<void> {
  const placedAt = Date.now();
  try {
    // Meta first: a bridge taking the warm claim checks that the call is not over (its meta exists).
    await Promise.all([
      writeCallMeta(deps.redis, {
        callSid: call.callSid,
        businessId: call.business.id,
        direction: 'outbound',
        from: call.from,
        to: call.to,
        receivedAt: placedAt,
      }),
      deps.calls.recordPlaced({ callSid: call.callSid, businessId: call.business.id, from: call.from, to: call.to }),
    ]);
    await deps.prebuilder.prebuild(
      { callSid: call.callSid, business: call.business, direction: 'outbound', receivedAt: placedAt },
      log,
    );
  } catch (err) {
    log.error('outbound prebuild failed; the answer will be served cold', errorFields(err));
  }
}

async function reserveRoom(room: OutboundRoom | undefined): Promise<Reservation | undefined> {
  if (!room) return undefined;
  let reservation: Reservation;
  try {
    reservation = await room.reserve();
  } catch (err) {
    throw new RoomUnknownError(err);
  }
  if (!reservation.check.admitted) throw new NoRoomError(reservation.check.spare, reservation.check.reserved);
  return reservation;
}

async function resolveCaller(
  businesses: BusinessRepository,
  request: PlaceCallRequest,
): Promise<{ business: Business; from: string }> {
  if (request.from !== undefined) {
    const business = await businesses.findByPhoneNumber(request.from);
    if (!business) throw new UnknownBusinessError('from', request.from);
    return { business, from: request.from };
  }
  const businessId = request.businessId!;
  const business = await businesses.findById(businessId);
  if (!business) throw new UnknownBusinessError('businessId', businessId);
  const [first] = await businesses.listPhoneNumbers(business.id);
  if (!first) throw new NoBusinessNumberError(business.id);
  return { business, from: first };
}
