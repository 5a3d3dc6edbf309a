/**
 * Twilio playing the callee of one call placed through the REST double: it
 * rings, then is answered (by a person, an answering machine or a fax), or is
 * busy, not answered, or fails. Progress goes to the StatusCallback as Twilio
 * sends it (queued for `initiated`, ringing, in-progress for `answered`, and the
 * final status with CallDuration). An answered call posts the voice webhook
 * (Direction=outbound-api, From = the business number, To = the callee) and
 * follows the TwiML with the caller double (caller.ts), so the stream is opened
 * and played as for an inbound call. With AsyncAmd the detection result is
 * posted to AsyncAmdStatusCallback while the call goes on: a person after
 * `amdMs`; a machine when its greeting and beep have been sent (machine_end_beep
 * with DetectMessageEnd, machine_start with Enable); a fax after `amdMs`.
 */
import { BYTES_PER_MS, FRAME_MS, SAMPLE_RATE_HZ, mulawEncode } from '@voice/protocols';
import { renderScript, type ScriptSegment } from './caller-script.js';
import { TwilioCallerDouble } from './caller.js';
import type { CallCreateRequest, CallStatusEvent } from './call-create.js';
import { CALLER_DEFAULTS, TWILIO_API_VERSION } from './constants.js';
import type { OutgoingFrame } from './frame-clock.js';
import type { CallSummary, PlaceCallOptions } from './types.js';
import { postSignedForm } from './webhook.js';

export type CalleeAnswer = 'human' | 'machine' | 'fax' | 'busy' | 'no-answer' | 'failed';

export interface CalleeBehaviour {
  answer: CalleeAnswer;
  /** How long it rings before the answer (or busy, no-answer, failed). */
  ringMs?: number;
  /** human, fax: how long detection takes after the answer. */
  amdMs?: number;
  /** human: what the person says (default: the caller double's script). */
  script?: readonly ScriptSegment[];
  /** machine: its greeting, said before the beep. */
  machineGreeting?: string;
  /** Anything else for the caller double (e.g. hangupAfterMs). */
  caller?: Partial<PlaceCallOptions>;
  /** The status callbacks never arrive (the webhook was down for them); GET on the call still tells. */
  statusCallbacksLost?: boolean;
}

export const OUTBOUND_DEFAULTS = {
  ringMs: 300,
  amdMs: 400,
  machineGreeting: 'Hi, you have reached the voicemail of Sam. Please leave a message after the tone.',
  /** A voicemail beep: 1 kHz for half a second, at about a quarter of full scale. */
  beep: { hz: 1000, ms: 500, amplitude: 8000 },
  /** Real Twilio rounds a connected call's duration up to whole seconds. */
  msPerSecond: 1000,
} as const;

export interface OutboundCallEvent {
  kind: 'status' | 'amd';
  value: string;
  /** performance.now() when it was posted. */
  at: number;
}

export interface OutboundCallContext {
  sid: string;
  accountSid: string;
  authToken: string;
  request: CallCreateRequest;
  behaviour: CalleeBehaviour;
  /** Public callback URL -> where it really listens. */
  resolveUrl(publicUrl: string): string;
  /** Public wss stream URL -> where it really connects. */
  resolveStreamUrl(publicUrl: string): string;
}

type FinalStatus = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export class OutboundCall {
  readonly sid: string;
  readonly events: OutboundCallEvent[] = [];
  readonly warnings: string[] = [];
  /** The answered call, as the caller double plays it (undefined until answered, or never). */
  caller: TwilioCallerDouble | undefined;
  answeredAt: number | undefined;
  finalStatus: FinalStatus | undefined;
  /** Twilio's CallStatus now (queued, ringing, in-progress, then the final one), as GET on the call shows it. */
  callStatus = 'queued';
  /** Seconds, once the call is over (Twilio's `duration`). */
  durationS: number | undefined;
  /** Resolves when the call is over and its final status callback has been answered. */
  readonly done: Promise<FinalStatus>;
  private readonly posts: Promise<void>[] = [];
  private ringTimer: NodeJS.Timeout | undefined;
  private amdTimer: NodeJS.Timeout | undefined;
  private canceled = false;
  private resolveRinging!: () => void;

  constructor(private readonly ctx: OutboundCallContext) {
    this.sid = ctx.sid;
    this.done = this.run();
  }

  /** What calls.create asked for. */
  get request(): CallCreateRequest {
    return this.ctx.request;
  }

  /** When the AMD result was posted (performance.now()). */
  get amdPostedAt(): number | undefined {
    return this.events.find((e) => e.kind === 'amd')?.at;
  }

  /** REST `Twiml=` on this call: only a live (answered) call can be redirected. */
  redirect(twiml: string): boolean {
    if (!this.caller || this.finalStatus) return false;
    this.caller.redirect(twiml);
    return true;
  }

  /** REST `Status=completed` (or the test tearing down): hang up, or cancel while it rings. */
  complete(): void {
    if (this.caller) {
      void this.caller.completeByApi();
      return;
    }
    this.canceled = true;
    clearTimeout(this.ringTimer);
    this.resolveRinging?.();
  }

  private async run(): Promise<FinalStatus> {
    const { behaviour } = this.ctx;
    this.status('initiated', 'queued');
    this.status('ringing', 'ringing');
    await new Promise<void>((resolve) => {
      this.resolveRinging = resolve;
      this.ringTimer = setTimeout(resolve, behaviour.ringMs ?? OUTBOUND_DEFAULTS.ringMs);
    });
    if (this.canceled) return this.finish('canceled');
    if (behaviour.answer === 'busy' || behaviour.answer === 'no-answer' || behaviour.answer === 'failed')
      return this.finish(behaviour.answer);
    this.answeredAt = performance.now();
    this.status('answered', 'in-progress');
    const summary = await this.answer();
    clearTimeout(this.amdTimer);
    const seconds = Math.ceil(summary.durationMs / OUTBOUND_DEFAULTS.msPerSecond);
    return this.finish('completed', seconds);
  }

  private async answer(): Promise<CallSummary> {
    const { ctx } = this;
    const { request, behaviour } = ctx;
    const script =
      behaviour.answer === 'machine'
        ? await machineScript(behaviour.machineGreeting ?? OUTBOUND_DEFAULTS.machineGreeting)
        : undefined;
    const amdAfterMs = script ? script.length / BYTES_PER_MS : (behaviour.amdMs ?? OUTBOUND_DEFAULTS.amdMs);
    const userOnFrame = behaviour.caller?.onFrame;
    let amdScheduled = false;
    const publicUrl = request.url ?? '';
    const caller = new TwilioCallerDouble({
      webhookUrl: ctx.resolveUrl(publicUrl),
      publicWebhookUrl: publicUrl,
      authToken: ctx.authToken,
      accountSid: ctx.accountSid,
      callSid: ctx.sid,
      // An outbound call's webhook: From is the number Twilio called from, To the callee.
      from: request.from,
      to: request.to,
      webhookParams: { Direction: 'outbound-api', CallStatus: 'in-progress' },
      resolveStreamUrl: ctx.resolveStreamUrl,
      resolveCallbackUrl: ctx.resolveUrl,
      ...(script ? { script: [{ audio: script }] } : behaviour.script ? { script: behaviour.script } : {}),
      ...behaviour.caller,
      onFrame: (frame: OutgoingFrame) => {
        // Timed on the frames actually sent: a machine's result comes once its beep has gone out.
        if (!amdScheduled && frame.chunk * FRAME_MS >= amdAfterMs) {
          amdScheduled = true;
          this.postAmd(amdAfterMs);
        }
        return userOnFrame?.(frame);
      },
    });
    this.caller = caller;
    if (!request.twiml && !request.url) this.warnings.push('no Url or Twiml');
    return caller.done;
  }

  private postAmd(detectionMs: number): void {
    const { request, behaviour } = this.ctx;
    if (!request.machineDetection || !request.asyncAmdStatusCallback) return;
    if (!request.asyncAmd) {
      this.warnings.push('synchronous AMD is not simulated (the webhook would carry AnsweredBy)');
      return;
    }
    const answeredBy =
      behaviour.answer === 'machine'
        ? request.machineDetection === 'DetectMessageEnd'
          ? 'machine_end_beep'
          : 'machine_start'
        : behaviour.answer === 'fax'
          ? 'fax'
          : 'human';
    this.post('amd', answeredBy, request.asyncAmdStatusCallback, {
      AccountSid: this.ctx.accountSid,
      CallSid: this.sid,
      AnsweredBy: answeredBy,
      MachineDetectionDuration: String(Math.round(detectionMs)),
    });
  }

  private status(event: CallStatusEvent, callStatus: string, durationS?: number): void {
    const { request } = this.ctx;
    this.callStatus = callStatus;
    if (this.ctx.behaviour.statusCallbacksLost) return;
    if (!request.statusCallback || !request.statusCallbackEvents.includes(event)) return;
    this.post('status', callStatus, request.statusCallback, {
      AccountSid: this.ctx.accountSid,
      ApiVersion: TWILIO_API_VERSION,
      CallSid: this.sid,
      CallStatus: callStatus,
      Direction: 'outbound-api',
      From: request.from,
      To: request.to,
      CallbackSource: 'call-progress-events',
      Timestamp: new Date().toUTCString(),
      ...(durationS === undefined ? {} : { CallDuration: String(durationS), Duration: String(durationS) }),
    });
  }

  private async finish(status: FinalStatus, durationS?: number): Promise<FinalStatus> {
    this.finalStatus = status;
    this.durationS = durationS ?? 0;
    // Every final status goes out as the `completed` event (Twilio's default event).
    this.status('completed', status, durationS ?? 0);
    await Promise.all(this.posts);
    return status;
  }

  private post(
    kind: OutboundCallEvent['kind'],
    value: string,
    publicUrl: string,
    params: Record<string, string>,
  ): void {
    this.events.push({ kind, value, at: performance.now() });
    const posted = postSignedForm({
      localUrl: this.ctx.resolveUrl(publicUrl),
      publicUrl,
      authToken: this.ctx.authToken,
      params,
      timeoutMs: CALLER_DEFAULTS.webhookTimeoutMs,
    }).then(
      (res) => {
        if (res.status > 299) this.warnings.push(`${kind} ${value} answered HTTP ${res.status}: ${res.body.trim()}`);
      },
      (err: Error) => {
        this.warnings.push(`${kind} ${value} failed: ${err.message}`);
      },
    );
    this.posts.push(posted);
  }
}

/** The machine's greeting, then its beep: what the agent hears before the machine records. */
async function machineScript(greeting: string): Promise<Buffer> {
  const speech = await renderScript([{ say: greeting }]);
  return Buffer.concat([speech, beep()]);
}

function beep(): Buffer {
  const { hz, ms, amplitude } = OUTBOUND_DEFAULTS.beep;
  const samples = new Int16Array(Math.round(ms * BYTES_PER_MS));
  for (let i = 0; i < samples.length; i++)
    samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE_HZ));
  return mulawEncode(samples);
}
