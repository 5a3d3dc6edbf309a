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
  /** Spoken if the stream ends without the agent (the verbs after </Connect> run when the socket closes). */
  fallbackMessage: string;
}

export function streamTwiml(input: StreamTwimlInput): string {
  const response = new twilio.twiml.VoiceResponse();
  const connect = response.connect();
  const stream = connect.stream({
    url: input.streamUrl,
    statusCallback: input.statusCallbackUrl,
    statusCallbackMethod: 'POST',
  });
  stream.parameter({ name: STREAM_PARAMETERS.callToken, value: input.callToken });
  stream.parameter({ name: STREAM_PARAMETERS.businessId, value: input.businessId });
  stream.parameter({ name: STREAM_PARAMETERS.direction, value: input.direction });
  response.say(input.fallbackMessage);
  response.hangup();
  return response.toString();
}

export function sayAndHangUpTwiml(message: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}
