/** Options, records and the summary of a simulated inbound call. */
import type { ScriptSegment } from './caller-script.js';
import type { FrameClock, FrameHook } from './frame-clock.js';
import type { DtmfPress, MediaHook, StreamEndedBy } from './media-stream.js';
import type { TwimlVerb } from './twiml.js';

export interface PlaceCallOptions {
  /** Where the app's voice webhook really listens, e.g. `http://127.0.0.1:3000/twilio/voice`. */
  webhookUrl: string;
  /** The URL Twilio is configured with and signs, e.g. `https://voice.example.test/twilio/voice`. */
  publicWebhookUrl: string;
  authToken: string;
  accountSid?: string;
  /** Caller and called numbers (E.164). */
  from?: string;
  to?: string;
  /** Fixed ids instead of random ones. */
  callSid?: string;
  streamSid?: string;
  /** Added to (or overriding) the webhook's form parameters. */
  webhookParams?: Record<string, string>;
  /** Maps the public `wss://` stream URL from the TwiML to where the socket really connects. Default: identity. */
  resolveStreamUrl?: (publicUrl: string) => string;
  /**
   * Maps a public callback URL (`<Stream statusCallback>`) to a local one. Default: URLs on the
   * public webhook's origin go to the local webhook's origin, others are left alone.
   */
  resolveCallbackUrl?: (publicUrl: string) => string;
  /** POST stream-started/stream-stopped to `<Stream statusCallback>` when present. Default true. */
  streamStatusCallbacks?: boolean;
  /** Offer the `audio.twilio.com` subprotocol on the upgrade (the app must then echo it). Default true. */
  offerSubprotocol?: boolean;
  /** What the caller says. Default: 1 s of silence, one sentence, then silence until hangup. */
  script?: readonly ScriptSegment[];
  /** Delay between `connected` and `start`. Default 0. */
  startDelayMs?: number;
  /**
   * `start` waits (after startDelayMs) until this resolves, e.g. until the app has put a
   * checkpoint on the call's timeline: orders START against the app's progress instead of a clock.
   */
  startWhen?: () => Promise<unknown>;
  /** Open the stream socket and send nothing at all. */
  ghost?: boolean;
  /** Send `connected` but never `start`. */
  noStart?: boolean;
  /** Key presses, at ms since START. */
  dtmf?: readonly DtmfPress[];
  /** Hang up (stop + close) this long after the stream socket opened. */
  hangupAfterMs?: number;
  /** Hang up when the script has been said. Default false (silence until hangup). */
  hangupWhenScriptEnds?: boolean;
  /**
   * What the caller says on each stream after the first (a `<Connect action>` answer that reconnects):
   * the script goes on where the call is, it does not start again. Default: silence. `hangupAfterMs`
   * and `hangupWhenScriptEnds` apply to each stream.
   */
  reconnectScript?: readonly ScriptSegment[];
  /**
   * `<Connect action>`: Twilio posts the action URL at once when a stream ends (not when the caller
   * hung up). This delays the post, e.g. to reconnect only after the app's grace has passed.
   */
  connectActionDelayMs?: number;
  /** Shared 20 ms clock (open-loop load). Default: a clock of the call's own. */
  clock?: FrameClock;
  /** Sees (and may replace) each outgoing frame's payload, e.g. to stamp it. */
  onFrame?: FrameHook;
  /**
   * Sees each media payload the app sends (decoded mu-law) with its arrival time
   * (`performance.now()`), e.g. to read latency stamps in the agent's audio.
   */
  onMedia?: MediaHook;
  /** Keep every payload sent, for byte-for-byte comparison. Default true. */
  recordSentPayloads?: boolean;
  webhookTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  closeTimeoutMs?: number;
}

export type CallState = 'ringing' | 'connecting' | 'streaming' | 'after-stream' | 'ended';

export type CallEndReason =
  /** The caller hung up (option, script end or `hangup()`). */
  | 'caller'
  /** TwiML said `<Hangup/>`. */
  | 'twiml-hangup'
  /** TwiML ran out of verbs (Twilio hangs up). */
  | 'twiml-end'
  /** TwiML said `<Redirect>`, which the double records but does not follow. */
  | 'redirect'
  /** The REST API hung the live call up (`Status=completed`). */
  | 'api-hangup'
  /** TwiML said `<Dial>` (the caller went to another line; the double does not simulate it). */
  | 'dialed'
  /** The webhook failed (non-2xx, timeout, refused) or answered invalid TwiML. */
  | 'webhook-error';

/** `callMs`: ms since `placeCall`. */
export interface CallWarning {
  code?: number;
  message: string;
  callMs: number;
}

export interface ApiUpdate {
  kind: 'hangup' | 'redirect';
  callMs: number;
  /** Redirect: the new TwiML. */
  twiml?: string;
}

export interface SpokenByTwilio {
  verb: 'Say' | 'Play';
  /** Say text or Play URL. */
  text: string;
  callMs: number;
  /**
   * Before the stream, after it (the fallback), from TwiML the call was redirected to through
   * the REST API, or Twilio's own error message.
   */
  phase: 'before-stream' | 'after-stream' | 'redirect' | 'error';
}

/** Stream records: `atMs` is ms since START was sent (or since the socket opened when START never was). */
export interface ReceivedMessage {
  event: string;
  atMs: number;
  valid: boolean;
  bytes?: number;
}

export interface MarkEcho {
  name: string;
  receivedAtMs: number;
  echoedAtMs?: number;
  /** true: echoed when playback reached it; false: flushed by a clear; undefined: never echoed. */
  played?: boolean;
}

export interface ClearRecord {
  atMs: number;
  droppedMs: number;
  flushedMarks: string[];
}

export interface CallSummary {
  callSid: string;
  streamSid: string;
  accountSid: string;
  endedBy: CallEndReason;
  webhookStatus?: number;
  twiml: TwimlVerb[];
  /** The public stream URL Twilio connected to (query string stripped). */
  streamUrl?: string;
  streamEndedBy?: StreamEndedBy;
  /** How many media streams the call had, when more than one (reconnects through `<Connect action>`). */
  streams?: number;
  subprotocol?: string;
  customParameters?: Record<string, string>;
  closeCode?: number;
  closeReason?: string;
  /** ms from placeCall to START sent. */
  startSentCallMs?: number;
  sentFrames: number;
  receivedMessages: number;
  receivedMediaMessages: number;
  /** ms since START of the first audible media received / the first media of any kind. */
  firstAudioAtMs?: number;
  firstMediaAtMs?: number;
  marks: MarkEcho[];
  clears: ClearRecord[];
  /** ms of audio actually played to the caller, and how much of it was audible. */
  heardMs: number;
  heardAudibleMs: number;
  spokenByTwilio: SpokenByTwilio[];
  /** Verbs run after the stream closed (the fallback, or the TwiML of a REST redirect). */
  afterStreamVerbs: TwimlVerb[];
  /** Updates of the live call through the REST API, as the caller saw them (ms since placeCall). */
  apiUpdates: ApiUpdate[];
  /** Numbers a `<Dial>` connected the caller to. */
  dialed: string[];
  warnings: CallWarning[];
  durationMs: number;
}
