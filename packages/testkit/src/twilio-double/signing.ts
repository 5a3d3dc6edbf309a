/**
 * Request signing exactly as Twilio does it, through the twilio SDK itself: an
 * HMAC-SHA1 of the public URL followed by the sorted POST parameters (none for
 * the WebSocket upgrade), keyed with the account's auth token.
 */
import twilio from 'twilio';

export const TWILIO_SIGNATURE_HEADER = 'X-Twilio-Signature';

/** Signature of a form-encoded webhook POST to `publicUrl` (the URL Twilio was configured with). */
export function signWebhook(authToken: string, publicUrl: string, params: Record<string, string>): string {
  return twilio.getExpectedTwilioSignature(authToken, publicUrl, params);
}

/** Signature of the media-stream upgrade to the public `wss://` URL: the URL alone, no parameters. */
export function signStreamUpgrade(authToken: string, publicStreamUrl: string): string {
  return twilio.getExpectedTwilioSignature(authToken, publicStreamUrl, {});
}
