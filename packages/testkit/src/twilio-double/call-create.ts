/**
 * `POST /2010-04-01/Accounts/{AC}/Calls.json` checked the way Twilio checks it,
 * before any call exists: the numbers (E.164, and From one of the account's
 * numbers), the instructions (Url or Twiml), the callback URLs, and the answering
 * machine detection values. A refusal is Twilio's 400 JSON `{code, message,
 * more_info, status}`. Codes are Twilio's documented ones (21201, 21211, 21213,
 * 21212, 21210, 21205, 21502, 21234); the message texts are our paraphrase.
 */

export const CALL_STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;
export type CallStatusEvent = (typeof CALL_STATUS_EVENTS)[number];

export const MACHINE_DETECTION_MODES = ['Enable', 'DetectMessageEnd'] as const;
export type MachineDetectionMode = (typeof MACHINE_DETECTION_MODES)[number];

/** Twilio's documented limits and defaults for calls.create. */
export const CALL_CREATE_LIMITS = {
  machineDetectionTimeoutS: { min: 3, max: 59, default: 30 },
  ringTimeoutS: { min: 1, max: 600, default: 60 },
} as const;

export interface CallCreateRequest {
  to: string;
  from: string;
  /** Exactly one of url / twiml. */
  url?: string;
  twiml?: string;
  statusCallback?: string;
  /** Which progress events go to statusCallback (Twilio's default: completed only). */
  statusCallbackEvents: CallStatusEvent[];
  machineDetection?: MachineDetectionMode;
  asyncAmd: boolean;
  asyncAmdStatusCallback?: string;
  machineDetectionTimeoutS: number;
  ringTimeoutS: number;
}

export interface TwilioApiError {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

export type CallCreateResult = { ok: true; request: CallCreateRequest } | { ok: false; error: TwilioApiError };

const E164 = /^\+[1-9]\d{1,14}$/;
const BAD_REQUEST = 400;

export function twilioError(code: number, message: string, status = BAD_REQUEST): TwilioApiError {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

class Refusal extends Error {
  constructor(readonly error: TwilioApiError) {
    super(error.message);
  }
}

const refuse = (code: number, message: string): never => {
  throw new Refusal(twilioError(code, message));
};

/** `ownedNumbers`: the account's numbers (From must be one); undefined: any E.164 From is accepted. */
export function validateCallCreate(
  form: URLSearchParams,
  ownedNumbers: readonly string[] | undefined,
): CallCreateResult {
  try {
    return { ok: true, request: readRequest(form, ownedNumbers) };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, error: err.error };
    throw err;
  }
}

function readRequest(form: URLSearchParams, ownedNumbers: readonly string[] | undefined): CallCreateRequest {
  const to = form.get('To') ?? refuse(21201, "No 'To' number is specified");
  if (!E164.test(to)) refuse(21211, `The 'To' number ${to} is not a valid phone number.`);
  const from = form.get('From') ?? refuse(21213, "No 'From' number is specified");
  if (!E164.test(from))
    refuse(21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
  if (ownedNumbers && !ownedNumbers.includes(from)) {
    refuse(
      21210,
      `The source phone number provided, ${from}, is not yet verified for your account. You may only make calls from phone numbers that you've verified or purchased from Twilio.`,
    );
  }
  const url = form.get('Url') ?? undefined;
  const twiml = form.get('Twiml') ?? undefined;
  if (url === undefined && twiml === undefined) refuse(21205, 'Url parameter is required (or Twiml).');
  if (url !== undefined && !isHttpUrl(url)) refuse(21205, `Url is not a valid URL: ${url}`);
  const statusCallback = optionalUrl(form, 'StatusCallback');
  const asyncAmdStatusCallback = optionalUrl(form, 'AsyncAmdStatusCallback');
  const statusCallbackEvents = form.getAll('StatusCallbackEvent').flatMap((v) => v.split(/[\s,]+/).filter(Boolean));
  for (const event of statusCallbackEvents) {
    if (!(CALL_STATUS_EVENTS as readonly string[]).includes(event))
      refuse(21200, `StatusCallbackEvent ${event} is not one of ${CALL_STATUS_EVENTS.join(', ')}.`);
  }
  const machineDetection = form.get('MachineDetection') ?? undefined;
  if (machineDetection !== undefined && !(MACHINE_DETECTION_MODES as readonly string[]).includes(machineDetection)) {
    refuse(
      21234,
      `Invalid Machine Detection configuration value: MachineDetection must be Enable or DetectMessageEnd, not ${machineDetection}.`,
    );
  }
  const asyncAmd = form.get('AsyncAmd') ?? 'false';
  if (asyncAmd !== 'true' && asyncAmd !== 'false')
    refuse(21234, `Invalid Machine Detection configuration value: AsyncAmd must be true or false, not ${asyncAmd}.`);
  const limits = CALL_CREATE_LIMITS.machineDetectionTimeoutS;
  const machineDetectionTimeoutS = integerParam(form, 'MachineDetectionTimeout', limits.default);
  if (machineDetectionTimeoutS < limits.min || machineDetectionTimeoutS > limits.max) {
    refuse(
      21234,
      `Invalid Machine Detection configuration value: MachineDetectionTimeout must be ${limits.min} to ${limits.max} seconds.`,
    );
  }
  const ring = CALL_CREATE_LIMITS.ringTimeoutS;
  const ringTimeoutS = Math.min(Math.max(integerParam(form, 'Timeout', ring.default), ring.min), ring.max);
  return {
    to,
    from,
    ...(url !== undefined ? { url } : {}),
    ...(twiml !== undefined ? { twiml } : {}),
    ...(statusCallback !== undefined ? { statusCallback } : {}),
    statusCallbackEvents: (statusCallbackEvents.length > 0 ? statusCallbackEvents : ['completed']) as CallStatusEvent[],
    ...(machineDetection !== undefined ? { machineDetection: machineDetection as MachineDetectionMode } : {}),
    asyncAmd: asyncAmd === 'true',
    ...(asyncAmdStatusCallback !== undefined ? { asyncAmdStatusCallback } : {}),
    machineDetectionTimeoutS,
    ringTimeoutS,
  };
}

function optionalUrl(form: URLSearchParams, name: string): string | undefined {
  const value = form.get(name) ?? undefined;
  if (value !== undefined && !isHttpUrl(value)) refuse(21502, `${name} is not a valid URL: ${value}`);
  return value;
}

function integerParam(form: URLSearchParams, name: string, fallback: number): number {
  const raw = form.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) refuse(21200, `${name} must be an integer, not ${raw}.`);
  return value;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
