/**
 * Twilio's side of a webhook: a form-encoded POST, signed against the public
 * URL, sent to wherever the app really listens. Uses node:http with no agent so
 * no keep-alive socket outlives the request (tests must be able to exit).
 */
import http from 'node:http';
import https from 'node:https';
import { TWILIO_SIGNATURE_HEADER, signWebhook } from './signing.js';
import { TWILIO_API_VERSION, WEBHOOK_USER_AGENT } from './constants.js';

export interface WebhookResponse {
  status: number;
  contentType: string | undefined;
  body: string;
}

export interface SignedPostOptions {
  /** Where the request really goes (e.g. `http://127.0.0.1:3000/twilio/voice`). */
  localUrl: string;
  /** The URL the signature covers: what Twilio was configured with. */
  publicUrl: string;
  authToken: string;
  params: Record<string, string>;
  timeoutMs: number;
  /** Aborts the request (the caller hung up while Twilio was still fetching TwiML). */
  signal?: AbortSignal;
}

export class WebhookRequestError extends Error {
  override name = 'WebhookRequestError';
}

export function postSignedForm(options: SignedPostOptions): Promise<WebhookResponse> {
  const body = new URLSearchParams(options.params).toString();
  const url = new URL(options.localUrl);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        agent: false,
        ...(options.signal ? { signal: options.signal } : {}),
        timeout: options.timeoutMs,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': WEBHOOK_USER_AGENT,
          Accept: '*/*',
          [TWILIO_SIGNATURE_HEADER]: signWebhook(options.authToken, options.publicUrl, options.params),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new WebhookRequestError(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface VoiceWebhookCall {
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
}

/**
 * The parameters of an inbound call's first webhook, as Twilio sends them.
 * Geographic fields are present but empty, as for numbers Twilio cannot place.
 */
export function voiceWebhookParams(call: VoiceWebhookCall, extra: Record<string, string> = {}): Record<string, string> {
  const geo = (prefix: string): Record<string, string> => ({
    [`${prefix}City`]: '',
    [`${prefix}State`]: '',
    [`${prefix}Zip`]: '',
    [`${prefix}Country`]: 'US',
  });
  return {
    AccountSid: call.accountSid,
    ApiVersion: TWILIO_API_VERSION,
    CallSid: call.callSid,
    CallStatus: 'ringing',
    Called: call.to,
    Caller: call.from,
    Direction: 'inbound',
    From: call.from,
    To: call.to,
    ...geo('Called'),
    ...geo('Caller'),
    ...geo('From'),
    ...geo('To'),
    ...extra,
  };
}

/** The stream status callback (`<Stream statusCallback>`) body for one event. */
export function streamStatusParams(
  call: { accountSid: string; callSid: string; streamSid: string; streamName?: string },
  event: 'stream-started' | 'stream-stopped' | 'stream-error',
  error?: string,
): Record<string, string> {
  return {
    AccountSid: call.accountSid,
    CallSid: call.callSid,
    StreamSid: call.streamSid,
    StreamName: call.streamName ?? call.streamSid,
    StreamEvent: event,
    Timestamp: new Date().toISOString(),
    ...(error ? { StreamError: error } : {}),
  };
}
