/**
 * Controls a live call through Twilio's REST API (the official SDK): used to
 * transfer a caller the model cannot serve, and for the agent's own end_call
 * (hang up) and transfer_call (redirect to <Dial>). `TWILIO_API_BASE_URL` points the
 * SDK elsewhere (a regional edge, or the local double in tests) by rewriting
 * the request host in a RequestClient, as the SDK documents for custom clients.
 */
import twilio from 'twilio';
import type { TwilioRestConfig } from '../config.js';

type RequestOptions<T> = Parameters<typeof twilio.RequestClient.prototype.request<T>>[0];

const DEFAULT_API_ORIGIN = 'https://api.twilio.com';

export interface CallControl {
  /** Replaces the live call's TwiML (Twilio ends the media stream and runs the new TwiML). */
  redirect(callSid: string, twiml: string): Promise<void>;
  /** Hangs the live call up (Status=completed): no TwiML runs after it, unlike closing the stream. */
  hangup(callSid: string): Promise<void>;
}

class ApiHostRequestClient extends twilio.RequestClient {
  constructor(private readonly origin: string) {
    super();
  }

  override request<TData>(opts: RequestOptions<TData>) {
    const uri = new URL(opts.uri);
    const target = new URL(this.origin);
    uri.protocol = target.protocol;
    uri.host = target.host;
    return super.request<TData>({ ...opts, uri: uri.toString() });
  }
}

export function createCallControl(config: TwilioRestConfig): CallControl | undefined {
  if (!config.accountSid || !config.authToken) return undefined;
  const origin = config.apiBaseUrl.replace(/\/+$/, '');
  const client = twilio(config.accountSid, config.authToken, {
    ...(origin !== DEFAULT_API_ORIGIN ? { httpClient: new ApiHostRequestClient(origin) } : {}),
  });
  // The SDK loads its API modules on first use (~90 ms measured): pay it at start, not while a caller waits.
  void client.calls;
  return {
    async redirect(callSid, twiml) {
      await client.calls(callSid).update({ twiml });
    },
    async hangup(callSid) {
      await client.calls(callSid).update({ status: 'completed' });
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
