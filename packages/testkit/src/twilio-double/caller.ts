/**
 * One inbound call placed the way Twilio places it: the signed voice webhook,
 * then the TwiML verbs in order. `<Connect><Stream>` blocks until the stream's
 * socket closes; if the caller hung up, nothing more runs. Otherwise, with
 * `<Connect action>`, Twilio posts the action URL (signed, the standard call
 * parameters) and runs the TwiML it answers (a new `<Connect><Stream>`, a
 * `<Say>`, a `<Hangup>`) instead of the verbs after `</Connect>`; without an
 * action, the verbs after `</Connect>` (the fallback) run next. What the
 * caller heard is one record across every stream of the call, timed from
 * the first START, so a test can measure the gap of a reconnect.
 *
 * Its parts: the requests for TwiML (twiml-requests.ts), the verbs other than
 * `<Connect>` (twiml-verbs.ts), REST updates of the live call (api-update.ts),
 * opening a stream (stream-open.ts), the summary (call-summary.ts).
 */
import { APPLICATION_ERROR_SPEECH, CALLER_DEFAULTS } from './constants.js';
import { DEFAULT_CALLER_SCRIPT, renderScript } from './caller-script.js';
import type { MediaStreamSession, StreamEnd } from './media-stream.js';
import { newSid } from './sids.js';
import { StreamView } from './stream-view.js';
import type { StreamNoun, TwimlVerb } from './twiml.js';
import type {
  ApiUpdate,
  CallEndReason,
  CallState,
  CallSummary,
  CallWarning,
  ClearRecord,
  MarkEcho,
  PlaceCallOptions,
  ReceivedMessage,
  SpokenByTwilio,
} from './types.js';
import { assembleTimeline, audibleMs, writeMulawWav } from './heard-audio.js';
import { mulawRms } from '@voice/protocols';
import type { HeardSegment } from './heard-audio.js';
import { StreamStatusPoster } from './stream-status.js';
import type { StreamStatusEvent } from './stream-status.js';
import { openMediaStream, publicStreamUrl } from './stream-open.js';
import { fetchVoiceTwiml, requestConnectAction, type TwimlRequestContext } from './twiml-requests.js';
import { summarizeCall } from './call-summary.js';
import { runTwilioVerb } from './twiml-verbs.js';
import { readApiUpdate } from './api-update.js';

type ConnectVerb = Extract<TwimlVerb, { verb: 'Connect' }>;

/** Places the call at once; await `call.done` for its summary. */
export function placeCall(options: PlaceCallOptions): TwilioCallerDouble {
  return new TwilioCallerDouble(options);
}

export class TwilioCallerDouble {
  readonly callSid: string;
  /** The current stream's StreamSid (each stream of a reconnected call has its own). */
  streamSid: string;
  readonly streamSids: string[] = [];
  /** `<Connect action>` posts made, with what was answered (the verbs). */
  readonly connectActions: Array<{ callMs: number; status: number; verbs: TwimlVerb[] }> = [];
  readonly accountSid: string;
  /** Resolves when the call is over: stream closed, fallback verbs and status callbacks done. */
  readonly done: Promise<CallSummary>;
  state: CallState = 'ringing';
  webhookStatus: number | undefined;
  twiml: TwimlVerb[] = [];
  readonly warnings: CallWarning[] = [];
  readonly spokenByTwilio: SpokenByTwilio[] = [];
  readonly afterStreamVerbs: TwimlVerb[] = [];
  /** The current media stream, once `<Connect><Stream>` is reached. */
  session: MediaStreamSession | undefined;
  readonly apiUpdates: ApiUpdate[] = [];
  readonly dialed: string[] = [];
  /** TwiML a REST redirect put in place of the rest of the call's verbs. */
  private redirectVerbs: TwimlVerb[] | undefined;
  private endedByApi = false;
  /** Every media stream of the call, in order. */
  readonly sessions: MediaStreamSession[] = [];

  private readonly views: StreamView[] = [];
  /** TwiML a `<Connect action>` answered, waiting to replace the verbs still to run. */
  private actionAnswer: TwimlVerb[] | undefined;
  private streamEnd: StreamEnd | undefined;
  /** Set once `<Connect><Stream>` has run (or failed): later verbs are the fallback. */
  private pastStream = false;
  private streamUrl: string | undefined;
  private customParameters: Record<string, string> | undefined;
  private hungUp = false;
  /** A REST redirect replaced the call's verbs (what Twilio then runs is phase 'redirect'). */
  private redirected = false;
  /** performance.now() when the call was placed: `callMs` values count from here. */
  readonly placedAt = performance.now();
  private readonly abort = new AbortController();
  private readonly streamStatus: StreamStatusPoster;

  constructor(private readonly options: PlaceCallOptions) {
    this.callSid = options.callSid ?? newSid('CA');
    this.streamSid = options.streamSid ?? newSid('MZ');
    this.accountSid = options.accountSid ?? CALLER_DEFAULTS.accountSid;
    this.streamStatus = new StreamStatusPoster({
      authToken: options.authToken,
      publicWebhookUrl: options.publicWebhookUrl,
      webhookUrl: options.webhookUrl,
      ids: { accountSid: this.accountSid, callSid: this.callSid, streamSid: this.streamSid },
      resolveCallbackUrl: options.resolveCallbackUrl,
      timeoutMs: options.webhookTimeoutMs,
      warn: (code, message) => this.warn(code, message),
    });
    this.done = this.run();
  }

  /** The caller hangs up now; resolves with the summary. */
  hangup(): Promise<CallSummary> {
    this.hungUp = true;
    this.abort.abort();
    this.session?.hangup();
    return this.done;
  }

  /** The call's status as Twilio's REST API would report it (calls(sid).fetch). */
  get twilioStatus(): 'ringing' | 'in-progress' | 'completed' {
    if (this.hungUp || this.endedByApi || this.state === 'ended') return 'completed';
    return this.state === 'ringing' ? 'ringing' : 'in-progress';
  }

  /**
   * The caller presses a key now (the `dtmf` option schedules keys by stream time instead).
   * False when no stream has started or it is ending.
   */
  press(digit: string): boolean {
    return this.session?.press(digit) ?? false;
  }

  /** The current stream's connection breaks (no `stop`); like Twilio, the call goes on to `<Connect action>`. */
  breakStream(): void {
    this.session?.breakConnection();
  }

  /**
   * Twilio's side of `calls(sid).update({twiml})` (the outbound callee double uses it; see applyApiUpdate).
   */
  redirect(twiml: string): void {
    this.applyApiUpdate({ Twiml: twiml });
  }

  /** Twilio's side of `calls(sid).update({status: 'completed'})`: the call is hung up from the API. */
  completeByApi(): Promise<CallSummary> {
    this.applyApiUpdate({ Status: 'completed' });
    // Whatever was still waiting (a webhook request, the caller's script) ends with the call.
    this.abort.abort();
    return this.done;
  }

  /**
   * A REST API update of this live call (`POST …/Calls/{CA}.json`), as Twilio applies it:
   * `Status=completed` hangs up; `Twiml` ends the media stream (`stop`, close) and runs the
   * new TwiML instead of whatever came next. Wire it to TwilioRestDouble's `onCallUpdate`.
   */
  applyApiUpdate(params: Record<string, string>): void {
    if (this.state === 'ended' || this.hungUp || this.endedByApi) return;
    const update = readApiUpdate(params);
    if (update.kind === 'refused') return this.warn(update.code, update.message);
    if (update.kind === 'hangup') {
      this.apiUpdates.push({ kind: 'hangup', callMs: this.callMs() });
      this.endedByApi = true;
    } else {
      this.apiUpdates.push({ kind: 'redirect', callMs: this.callMs(), twiml: update.twiml });
      this.redirectVerbs = update.verbs;
      this.redirected = true;
    }
    // Twilio ends the stream (stop, close) for the update, not the caller.
    this.session?.hangup('twilio');
  }

  get received(): ReceivedMessage[] {
    return this.views.flatMap((v) => v.received());
  }
  get marks(): MarkEcho[] {
    return this.views.flatMap((v) => v.marks());
  }
  get clears(): ClearRecord[] {
    return this.views.flatMap((v) => v.clears());
  }
  get sentFrames(): number {
    return this.sessions.reduce((sum, s) => sum + s.sentFrames, 0);
  }
  /** Every media payload sent, in order (empty when `recordSentPayloads` is false). */
  get sentPayloads(): readonly Buffer[] {
    return this.sessions.flatMap((s) => s.sentPayloads);
  }
  sentAudio(): Buffer {
    return Buffer.concat(this.sentPayloads);
  }
  /** ms since START of the first audible audio received. */
  get firstAudioAtMs(): number | undefined {
    return this.views.find((v) => v.firstAudioAtMs !== undefined)?.firstAudioAtMs;
  }
  /** ms since START of the first media message of any kind. */
  get firstMediaAtMs(): number | undefined {
    return this.views.find((v) => v.firstMediaAtMs !== undefined)?.firstMediaAtMs;
  }
  get startSentCallMs(): number | undefined {
    const at = this.sessions[0]?.startSentAt;
    return at === undefined ? undefined : at - this.placedAt;
  }
  /** ms since the first START at which each stream's START was sent (one per stream). */
  get streamStartsMs(): number[] {
    const origin = this.sessions[0]?.origin;
    return this.sessions.flatMap((s) =>
      s.startSentAt === undefined || origin === undefined ? [] : [Math.round((s.startSentAt - origin) * 10) / 10],
    );
  }
  /** What played, across every stream of the call, timed from the first START. */
  heardSegments(): HeardSegment[] {
    return this.views.flatMap((v) => v.heardSegments());
  }
  /** Played audio as one mu-law buffer from the first START on, silence in the gaps (reconnects included). */
  heardAudio(): Buffer {
    return assembleTimeline(this.heardSegments());
  }
  heardRms(): number {
    return mulawRms(Buffer.concat(this.heardSegments().map((s) => s.bytes)));
  }
  heardAudibleMs(): number {
    return audibleMs(Buffer.concat(this.heardSegments().map((s) => s.bytes)));
  }
  /** Writes what the caller heard as a 16-bit PCM 8 kHz WAV. */
  writeWav(path: string): Promise<void> {
    return writeMulawWav(path, this.heardAudio());
  }

  private async run(): Promise<CallSummary> {
    const script = renderScript(this.options.script ?? DEFAULT_CALLER_SCRIPT);
    const reconnectScript = renderScript(this.options.reconnectScript ?? []);
    // Awaited only if a stream opens; a failed webhook must not leave it unhandled.
    script.catch(() => undefined);
    reconnectScript.catch(() => undefined);
    const verbs = await this.fetchTwiml();
    let endedBy: CallEndReason = verbs ? 'twiml-end' : 'webhook-error';
    let pending = [...(verbs ?? [])];
    while (pending.length > 0 && !this.hungUp && !this.endedByApi) {
      const outcome = await this.runVerb(pending.shift()!, this.sessions.length === 0 ? script : reconnectScript);
      if (this.redirectVerbs) {
        // A REST redirect arrived while this verb ran: its TwiML replaces the rest.
        pending = this.redirectVerbs;
        this.redirectVerbs = undefined;
        endedBy = 'twiml-end';
        continue;
      }
      if (this.actionAnswer) {
        // <Connect action> answered: its TwiML runs instead of the verbs after </Connect>.
        pending = this.actionAnswer;
        this.actionAnswer = undefined;
        endedBy = 'twiml-end';
        continue;
      }
      if (outcome) {
        endedBy = outcome;
        break;
      }
    }
    if (this.endedByApi) endedBy = 'api-hangup';
    if (this.hungUp) endedBy = 'caller';
    await this.streamStatus.settled();
    this.state = 'ended';
    return this.summarize(endedBy);
  }

  private async fetchTwiml(): Promise<TwimlVerb[] | undefined> {
    const answer = await fetchVoiceTwiml(this.requestContext());
    this.webhookStatus = answer.status;
    if (answer.verbs) this.twiml = answer.verbs;
    return answer.verbs;
  }

  /** What the TwiML requests (the voice webhook, `<Connect action>`) need of this call. */
  private requestContext(): TwimlRequestContext {
    return {
      options: this.options,
      callSid: this.callSid,
      accountSid: this.accountSid,
      signal: this.abort.signal,
      hungUp: () => this.hungUp,
      applicationError: (code, message) => this.applicationError(code, message),
      localUrl: (publicUrl) => this.streamStatus.localUrl(publicUrl),
      callMs: () => this.callMs(),
    };
  }

  /** What Twilio does when it cannot get usable TwiML: apologise and hang up. */
  private applicationError(code: number, message: string): undefined {
    this.warn(code, message);
    this.spokenByTwilio.push({ verb: 'Say', text: APPLICATION_ERROR_SPEECH, callMs: this.callMs(), phase: 'error' });
    return undefined;
  }

  /** Runs one verb; returns why the call ends if it ends here. */
  private async runVerb(verb: TwimlVerb, script: Promise<Buffer>): Promise<CallEndReason | undefined> {
    const phase = this.redirected ? 'redirect' : this.pastStream ? 'after-stream' : 'before-stream';
    if (this.pastStream && !this.redirected) this.afterStreamVerbs.push(verb);
    if (verb.verb === 'Connect') return this.runConnect(verb, script);
    return runTwilioVerb(verb, phase, {
      spokenByTwilio: this.spokenByTwilio,
      dialed: this.dialed,
      warn: (code, message) => this.warn(code, message),
      callMs: () => this.callMs(),
    });
  }

  private async runConnect(verb: ConnectVerb, script: Promise<Buffer>): Promise<CallEndReason | undefined> {
    const stream = verb.stream;
    if (!stream) {
      this.warn(undefined, '<Connect> without <Stream> is not simulated');
      return undefined;
    }
    // Twilio goes on (to the action URL, or the next verb) whether the stream ran or could not open.
    this.pastStream = true;
    if (this.sessions.length > 0) this.streamSid = newSid('MZ');
    const publicUrl = publicStreamUrl(stream.url, (code, message) => this.warn(code, message));
    if (publicUrl === undefined) return undefined;
    const audio = await script;
    if (this.hungUp) return 'caller';
    this.state = 'connecting';
    this.streamUrl = publicUrl;
    this.customParameters = stream.parameters;
    const session = this.openStream(publicUrl, stream, audio);
    this.session = session;
    this.sessions.push(session);
    this.streamSids.push(this.streamSid);
    const first = this.sessions[0]!;
    this.views.push(new StreamView(session, () => first.origin));
    const end = await session.ended;
    this.streamEnd = end;
    this.state = 'after-stream';
    if (end.endedBy === 'handshake-failed') this.postStatus(stream, 'stream-error', end.error);
    else if (end.endedBy === 'network') this.postStatus(stream, 'stream-error', 'WebSocket connection broken');
    else this.postStatus(stream, 'stream-stopped');
    if (end.endedBy === 'caller' || this.hungUp) return 'caller';
    // A stream the REST API ended (a redirect, a hangup) is not the caller's, and a redirect
    // replaces the call's TwiML: the action is not requested.
    if (this.endedByApi || this.redirectVerbs) return undefined;
    if (verb.action) return this.requestConnectAction(verb.action);
    return undefined;
  }

  /** Twilio's `<Connect action>` (twiml-requests.ts): its answer runs next, instead of the verbs after `</Connect>`. */
  private async requestConnectAction(action: string): Promise<CallEndReason | undefined> {
    const answer = await requestConnectAction(this.requestContext(), action);
    if (answer.endedBy !== undefined) return answer.endedBy;
    this.connectActions.push({ callMs: answer.callMs, status: answer.status, verbs: [...answer.verbs] });
    this.actionAnswer = answer.verbs;
    return undefined;
  }

  private openStream(publicUrl: string, stream: StreamNoun, audio: Buffer): MediaStreamSession {
    return openMediaStream(this.options, {
      ids: { accountSid: this.accountSid, callSid: this.callSid, streamSid: this.streamSid },
      publicUrl,
      stream,
      audio,
      warn: (code, message) => this.warn(code, message),
      onStarted: () => {
        this.state = 'streaming';
        this.postStatus(stream, 'stream-started');
      },
    });
  }

  private postStatus(stream: StreamNoun, event: StreamStatusEvent, error?: string): void {
    if (this.options.streamStatusCallbacks !== false) this.streamStatus.post(stream, event, error, this.streamSid);
  }

  private warn(code: number | undefined, message: string): void {
    this.warnings.push({ ...(code === undefined ? {} : { code }), message, callMs: this.callMs() });
  }

  private callMs(): number {
    return Math.round((performance.now() - this.placedAt) * 10) / 10;
  }

  private summarize(endedBy: CallEndReason): CallSummary {
    return summarizeCall(
      this,
      {
        streamUrl: this.streamUrl,
        customParameters: this.customParameters,
        streamEnd: this.streamEnd,
        heardMs: this.views.reduce((sum, v) => sum + v.heardMs(), 0),
        durationMs: this.callMs(),
      },
      endedBy,
    );
  }
}
