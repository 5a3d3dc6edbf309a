/**
 * Every default and fixed value of the simulated Twilio caller, in one place.
 * Values that mirror Twilio's own behaviour say where they come from.
 */

/** What Twilio puts in the webhook's `ApiVersion` field. */
export const TWILIO_API_VERSION = '2010-04-01';

/** The `connected` message Twilio sends first on every media stream. */
export const STREAM_PROTOCOL = { protocol: 'Call', version: '1.0.0' } as const;

/** Headers Twilio's media-stream client sends on the upgrade (besides the signature). */
export const STREAM_USER_AGENT = 'Twilio.TmeWs/1.0';
export const WEBHOOK_USER_AGENT = 'TwilioProxy/1.1';

/** Twilio answers a failed webhook fetch with this phrase, then hangs up. */
export const APPLICATION_ERROR_SPEECH = 'We are sorry, an application error has occurred. Goodbye.';

/**
 * Twilio error codes the double records as warnings. Twilio's docs describe
 * these in prose only; the mapping of cases to codes is our best reading.
 */
export const TWILIO_ERROR = {
  /** Webhook fetch failed: non-2xx, timeout or connection refused. */
  httpRetrievalFailure: 11200,
  /** Webhook answered something that is not valid TwiML. */
  documentParseFailure: 12100,
  /** The stream WebSocket could not be opened. */
  streamHandshake: 31920,
  /** A frame from the app that is not JSON text (binary, bad JSON). */
  streamMalformedMessage: 31950,
  /** JSON from the app that is not a valid stream message (schema, streamSid, event). */
  streamInvalidMessage: 31951,
} as const;

export const CALLER_DEFAULTS = {
  accountSid: 'AC00000000000000000000000000000000',
  from: '+15005550001',
  to: '+15005550006',
  /** Delay between `connected` and `start` (real Twilio: a few ms; slow paths: seconds). */
  startDelayMs: 0,
  /** Real Twilio gives up on the webhook after 15 s (error 11200). */
  webhookTimeoutMs: 15_000,
  /** After sending `stop` and a close frame, how long to wait for the app's close frame before dropping the socket. */
  closeTimeoutMs: 2_000,
  offerSubprotocol: true,
  /** Give up opening the stream socket after this long (Twilio's own limit is undocumented). */
  handshakeTimeoutMs: 10_000,
  /** What the caller says by default: a short pause (the greeting plays), one sentence, then silence. */
  leadingSilenceMs: 1_000,
  utterance: 'Hi, I would like to book a table for two people tonight at seven.',
  /** `<Pause>` without `length` lasts one second. */
  pauseSeconds: 1,
} as const;

/**
 * A 20 ms window whose RMS (linear 16-bit units) is above this counts as audible.
 * Speech sits in the thousands, comfort noise in the tens; digital silence is 0.
 */
export const AUDIBLE_RMS_THRESHOLD = 200;
