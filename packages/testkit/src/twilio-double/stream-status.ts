/**
 * `<Stream statusCallback>`: Twilio POSTs stream-started, stream-stopped and
 * stream-error to it, signed like any webhook. Posts run in the background and
 * are awaited before the call reports done, so no request outlives the call.
 */
import { CALLER_DEFAULTS, TWILIO_ERROR } from './constants.js';
import type { StreamNoun } from './twiml.js';
import { postSignedForm, streamStatusParams } from './webhook.js';

export type StreamStatusEvent = 'stream-started' | 'stream-stopped' | 'stream-error';

export interface StreamStatusOptions {
  authToken: string;
  publicWebhookUrl: string;
  webhookUrl: string;
  ids: { accountSid: string; callSid: string; streamSid: string };
  resolveCallbackUrl: ((publicUrl: string) => string) | undefined;
  timeoutMs: number | undefined;
  warn(code: number, message: string): void;
}

export class StreamStatusPoster {
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly options: StreamStatusOptions) {}

  /** `streamSid`: the stream's own (a call reconnected through <Connect action> has one per stream). */
  post(stream: StreamNoun, event: StreamStatusEvent, error?: string, streamSid?: string): void {
    if (!stream.statusCallback) return;
    const { options } = this;
    // A relative callback URL is resolved against the webhook URL, as Twilio does.
    const publicUrl = new URL(stream.statusCallback, options.publicWebhookUrl).toString();
    const ids = {
      ...options.ids,
      ...(streamSid ? { streamSid } : {}),
      ...(stream.name ? { streamName: stream.name } : {}),
    };
    const posted = postSignedForm({
      localUrl: this.localUrl(publicUrl),
      publicUrl,
      authToken: options.authToken,
      params: streamStatusParams(ids, event, error),
      timeoutMs: options.timeoutMs ?? CALLER_DEFAULTS.webhookTimeoutMs,
    }).then(
      (res) => {
        if (res.status > 299)
          options.warn(TWILIO_ERROR.httpRetrievalFailure, `stream status ${event} answered HTTP ${res.status}`);
      },
      (err: Error) => options.warn(TWILIO_ERROR.httpRetrievalFailure, `stream status ${event} failed: ${err.message}`),
    );
    this.pending.push(posted);
  }

  /** Resolves once every post so far has been answered or has failed. */
  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  /** URLs on the public webhook's origin go to the local webhook's origin; others are left alone. */
  localUrl(publicUrl: string): string {
    if (this.options.resolveCallbackUrl) return this.options.resolveCallbackUrl(publicUrl);
    const url = new URL(publicUrl);
    if (url.origin !== new URL(this.options.publicWebhookUrl).origin) return publicUrl;
    return new URL(this.options.webhookUrl).origin + url.pathname + url.search;
  }
}
