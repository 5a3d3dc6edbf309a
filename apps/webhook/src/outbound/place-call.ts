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
 */
import type { Business, BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { writeCallMeta, type RedisClient, type Timeline } from '@voice/redis';
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
export class TwilioUnreachableError extends Error {
  override name = 'TwilioUnreachableError';
  constructor(cause: unknown) {
    super(`Twilio REST API unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
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
    if (refusal) throw new TwilioRefusedError(refusal.status, refusal.code, refusal.message, refusal.moreInfo);
    throw new TwilioUnreachableError(err);
  }
  const twilioMs = performance.now() - started;
  const log = deps.logger.child({ callSid });
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
