/**
 * Controls a live call through Twilio's REST API (the official SDK): used to
 * transfer a caller the model cannot serve, for the agent's own end_call
 * (hang up) and transfer_call (redirect to <Dial>), and to ask whether a call
 * whose stream was lost is still up (lost-stream.ts). The client, and where
 * `TWILIO_API_BASE_URL` points it, is @voice/protocols/twilio-rest.
 */
import twilio from 'twilio';
import { createTwilioClient } from '@voice/protocols/twilio-rest';
import type { TwilioRestConfig } from '../config.js';

export interface CallControl {
  /** Replaces the live call's TwiML (Twilio ends the media stream and runs the new TwiML). */
  redirect(callSid: string, twiml: string): Promise<void>;
  /** Hangs the live call up (Status=completed): no TwiML runs after it, unlike closing the stream. */
  hangup(callSid: string): Promise<void>;
  /** The call's status at Twilio now (`in-progress`, `completed`, ...): calls(sid).fetch(). */
  status(callSid: string): Promise<string>;
}

export function createCallControl(config: TwilioRestConfig): CallControl | undefined {
  const { accountSid, authToken, apiBaseUrl, timeoutMs } = config;
  if (!accountSid || !authToken) return undefined;
  const client = createTwilioClient({ accountSid, authToken, apiBaseUrl, timeoutMs });
  // The SDK loads its API modules on first use (~90 ms measured): pay it at start, not while a caller waits.
  void client.calls;
  return {
    async redirect(callSid, twiml) {
      await client.calls(callSid).update({ twiml });
    },
    async hangup(callSid) {
      await client.calls(callSid).update({ status: 'completed' });
    },
    async status(callSid) {
      return (await client.calls(callSid).fetch()).status;
    },
  };
}

export function transferTwiml(number: string, message: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(message);
  response.dial(number);
  return response.toString();
}

/** The agent already told the caller (transfer_call): straight to the business's human line. */
export function dialTwiml(number: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.dial(number);
  return response.toString();
}
