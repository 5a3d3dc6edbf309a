/** The TwiML this service answers with, built with the twilio SDK. */
import twilio from 'twilio';
import { STREAM_PARAMETERS } from '@voice/protocols';

export interface StreamTwimlInput {
  /** wss URL of the media gateway; the CallSid goes in the PATH because Twilio drops query strings. */
  streamUrl: string;
  statusCallbackUrl: string;
  callToken: string;
  businessId: string;
  direction: 'inbound' | 'outbound';
  /**
   * Twilio posts this URL when the stream ends (routes/connect-action.ts decides: a fresh stream for a
   * call still alive, whose gateway went away; the spoken fallback and a hangup otherwise).
   */
  actionUrl: string;
}

export function streamTwiml(input: StreamTwimlInput): string {
  const response = new twilio.twiml.VoiceResponse();
  // With an action, Twilio runs the action URL's answer instead of any verb after </Connect>.
  const connect = response.connect({ action: input.actionUrl, method: 'POST' });
  const stream = connect.stream({
    url: input.streamUrl,
    statusCallback: input.statusCallbackUrl,
    statusCallbackMethod: 'POST',
  });
  stream.parameter({ name: STREAM_PARAMETERS.callToken, value: input.callToken });
  stream.parameter({ name: STREAM_PARAMETERS.businessId, value: input.businessId });
  stream.parameter({ name: STREAM_PARAMETERS.direction, value: input.direction });
  return response.toString();
}

export function sayAndHangUpTwiml(message: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}

/** Ends the call without a word (the caller already heard the agent's goodbye). */
export function hangUpTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  return response.toString();
}

/** Where Twilio finds this service and the gateway: the URLs every stream TwiML of a call carries. */
export interface StreamUrls {
  publicStreamUrl: string;
  publicBaseUrl: string;
}

export const CONNECT_ACTION_PATH = '/twilio/connect-action';

export function streamTwimlFor(
  urls: StreamUrls,
  callSid: string,
  call: { callToken: string; businessId: string; direction: 'inbound' | 'outbound' },
): StreamTwimlInput {
  return {
    streamUrl: `${urls.publicStreamUrl}/${callSid}`,
    statusCallbackUrl: `${urls.publicBaseUrl}/twilio/stream-status`,
    actionUrl: `${urls.publicBaseUrl}${CONNECT_ACTION_PATH}`,
    ...call,
  };
}
