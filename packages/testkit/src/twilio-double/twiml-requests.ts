/**
 * The two requests by which Twilio asks the app for a call's TwiML: the signed voice webhook
 * when the call comes in, and the `<Connect action>` POST once a stream has ended (signed, the
 * standard call parameters, a relative URL resolved against the webhook URL). Either one that
 * yields no usable TwiML is an application error: Twilio apologises and hangs up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CALLER_DEFAULTS, TWILIO_ERROR } from './constants.js';
import { parseTwiml } from './twiml.js';
import type { TwimlVerb } from './twiml.js';
import type { CallEndReason, PlaceCallOptions } from './types.js';
import { postSignedForm, voiceWebhookParams } from './webhook.js';

/** What the requests need of the call placing them. */
export interface TwimlRequestContext {
  options: PlaceCallOptions;
  callSid: string;
  accountSid: string;
  /** Aborted when the call ends (a hang-up, an API completion): a request in flight stops. */
  signal: AbortSignal;
  hungUp(): boolean;
  /** Twilio's answer to unusable TwiML: the warning, then the apology (see TwilioCallerDouble). */
  applicationError(code: number, message: string): void;
  /** Where a public callback URL is reached from this process. */
  localUrl(publicUrl: string): string;
  callMs(): number;
}

export interface VoiceWebhookResult {
  /** The webhook's HTTP status, when it answered. */
  status: number | undefined;
  /** The TwiML it answered; undefined when there is none to run. */
  verbs: TwimlVerb[] | undefined;
}

export type ConnectActionResult =
  { endedBy: CallEndReason } | { endedBy: undefined; status: number; verbs: TwimlVerb[]; callMs: number };

function callParams(ctx: TwimlRequestContext, extra: Record<string, string> | undefined): Record<string, string> {
  const { options } = ctx;
  return voiceWebhookParams(
    {
      callSid: ctx.callSid,
      accountSid: ctx.accountSid,
      from: options.from ?? CALLER_DEFAULTS.from,
      to: options.to ?? CALLER_DEFAULTS.to,
    },
    extra,
  );
}

/** The voice webhook: the call's first TwiML. */
export async function fetchVoiceTwiml(ctx: TwimlRequestContext): Promise<VoiceWebhookResult> {
  const { options } = ctx;
  const params = callParams(ctx, options.webhookParams);
  let status: number | undefined;
  try {
    const res = await postSignedForm({
      localUrl: options.webhookUrl,
      publicUrl: options.publicWebhookUrl,
      authToken: options.authToken,
      params,
      timeoutMs: options.webhookTimeoutMs ?? CALLER_DEFAULTS.webhookTimeoutMs,
      signal: ctx.signal,
    });
    status = res.status;
    if (res.status < 200 || res.status > 299) {
      ctx.applicationError(TWILIO_ERROR.httpRetrievalFailure, `webhook answered HTTP ${res.status}`);
      return { status, verbs: undefined };
    }
    return { status, verbs: parseTwiml(res.body) };
  } catch (err) {
    if (ctx.hungUp()) return { status, verbs: undefined };
    const isParse = (err as Error).name === 'TwimlParseError';
    ctx.applicationError(
      isParse ? TWILIO_ERROR.documentParseFailure : TWILIO_ERROR.httpRetrievalFailure,
      `${isParse ? 'TwiML' : 'webhook request'} failed: ${(err as Error).message}`,
    );
    return { status, verbs: undefined };
  }
}

/** Twilio's `<Connect action>`: the signed POST with the standard call parameters; its answer runs next. */
export async function requestConnectAction(ctx: TwimlRequestContext, action: string): Promise<ConnectActionResult> {
  const { options } = ctx;
  // A caller who hangs up meanwhile ends the wait: Twilio posts no action for a call that is over.
  if (options.connectActionDelayMs)
    await sleep(options.connectActionDelayMs, undefined, { signal: ctx.signal }).catch(() => undefined);
  if (ctx.hungUp()) return { endedBy: 'caller' };
  // A relative action URL is resolved against the webhook URL, as Twilio does.
  const publicUrl = new URL(action, options.publicWebhookUrl).toString();
  const params = callParams(ctx, {
    CallStatus: 'in-progress',
    ...(options.webhookParams?.Direction ? { Direction: options.webhookParams.Direction } : {}),
  });
  try {
    const res = await postSignedForm({
      localUrl: ctx.localUrl(publicUrl),
      publicUrl,
      authToken: options.authToken,
      params,
      timeoutMs: options.webhookTimeoutMs ?? CALLER_DEFAULTS.webhookTimeoutMs,
      signal: ctx.signal,
    });
    if (res.status < 200 || res.status > 299) {
      ctx.applicationError(TWILIO_ERROR.httpRetrievalFailure, `<Connect action> answered HTTP ${res.status}`);
      return { endedBy: 'webhook-error' };
    }
    const verbs = parseTwiml(res.body);
    return { endedBy: undefined, status: res.status, verbs, callMs: ctx.callMs() };
  } catch (err) {
    if (ctx.hungUp()) return { endedBy: 'caller' };
    ctx.applicationError(
      TWILIO_ERROR.httpRetrievalFailure,
      `<Connect action> request failed: ${(err as Error).message}`,
    );
    return { endedBy: 'webhook-error' };
  }
}
