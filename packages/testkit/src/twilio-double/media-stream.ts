/**
 * One media stream, from Twilio's side of the socket: opens the signed upgrade,
 * sends `connected`, `start` and a media frame on every clock tick, plays what
 * the app sends back, and ends with `stop` when the caller hangs up.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { TWILIO_MEDIA_SUBPROTOCOL } from '@voice/protocols';
import type { TwilioInboundMessage } from '@voice/protocols';
import { readAppMessage } from './app-messages.js';
import { frameAt, frameCount } from './caller-script.js';
import { STREAM_USER_AGENT, TWILIO_ERROR } from './constants.js';
import type { FrameClock, FrameHook, FrameTick, OutgoingFrame } from './frame-clock.js';
import { containsAudible } from './heard-audio.js';
import { PhonePlayback } from './playback.js';
import type { PlaybackMark } from './playback.js';
import { TWILIO_SIGNATURE_HEADER, signStreamUpgrade } from './signing.js';
import { StreamMessageCounter } from './stream-messages.js';
import type { StreamIds } from './stream-messages.js';

export interface DtmfPress {
  /** When to press, in ms since START was sent. */
  atMs: number;
  digit: string;
}

export interface StreamBehaviour {
  /** Open the socket and send nothing at all. */
  ghost: boolean;
  /** Send `connected` only, never `start`. */
  noStart: boolean;
  startDelayMs: number;
  /** START waits (after startDelayMs) until this resolves: a test orders START against what the app did, not a clock. */
  startWhen: (() => Promise<unknown>) | undefined;
  /** Hang up this long after the socket opened. */
  hangupAfterMs: number | undefined;
  /** Hang up once the script's last frame was sent (instead of going on with silence). */
  hangupWhenScriptEnds: boolean;
  dtmf: readonly DtmfPress[];
}

export interface MediaStreamOptions {
  ids: StreamIds;
  /** The `wss://` URL Twilio signs. */
  publicUrl: string;
  /** Where the socket really connects. */
  localUrl: string;
  authToken: string;
  offerSubprotocol: boolean;
  customParameters: Record<string, string>;
  behaviour: StreamBehaviour;
  /** The caller's audio, mu-law; frames past its end are silence. */
  script: Buffer;
  clock: FrameClock;
  onFrame: FrameHook | undefined;
  onMedia?: MediaHook | undefined;
  recordSentPayloads: boolean;
  handshakeTimeoutMs: number;
  closeTimeoutMs: number;
  warn(code: number | undefined, message: string): void;
  onStarted?(): void;
}

/** Called with each media payload received from the app and its arrival time (`performance.now()`). */
export type MediaHook = (audio: Buffer, at: number) => void;

/**
 * twilio: Twilio itself ended the stream (the call was redirected or completed through the REST API);
 * network: the connection broke mid-stream (no `stop`, no close frame), the call still up.
 */
export type StreamEndedBy = 'caller' | 'app' | 'twilio' | 'network' | 'handshake-failed';

export interface StreamEnd {
  endedBy: StreamEndedBy;
  closeCode: number;
  closeReason: string;
  error?: string;
  /** HTTP status when the app refused the upgrade. */
  upgradeStatus?: number;
}

export interface ReceivedRecord {
  event: string;
  at: number;
  valid: boolean;
  /** Decoded audio bytes, for media. */
  bytes?: number;
}

const NORMAL_CLOSURE = 1000;
const UNEXPECTED_RESPONSE = /Unexpected server response: (\d+)/;

export class MediaStreamSession {
  readonly ended: Promise<StreamEnd>;
  readonly playback: PhonePlayback;
  readonly received: ReceivedRecord[] = [];
  readonly sentPayloads: Buffer[] = [];
  sentFrames = 0;
  openedAt: number | undefined;
  startSentAt: number | undefined;
  firstMediaAt: number | undefined;
  firstAudibleAt: number | undefined;
  closedAt: number | undefined;
  subprotocol: string | undefined;

  private readonly ws: WebSocket;
  private readonly counter: StreamMessageCounter;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly dtmfQueue: DtmfPress[];
  private readonly scriptFrames: number;
  private unsubscribeClock: (() => void) | undefined;
  private hangingUp = false;
  private hangupBy: 'caller' | 'twilio' = 'caller';
  private broken = false;
  private lastError: Error | undefined;
  private resolveEnded!: (end: StreamEnd) => void;

  constructor(private readonly options: MediaStreamOptions) {
    this.counter = new StreamMessageCounter(options.ids);
    this.playback = new PhonePlayback((mark) => this.echoMark(mark));
    this.dtmfQueue = [...options.behaviour.dtmf].sort((a, b) => a.atMs - b.atMs);
    this.scriptFrames = frameCount(options.script);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.ws = new WebSocket(options.localUrl, options.offerSubprotocol ? [TWILIO_MEDIA_SUBPROTOCOL] : [], {
      headers: {
        [TWILIO_SIGNATURE_HEADER]: signStreamUpgrade(options.authToken, options.publicUrl),
        'User-Agent': STREAM_USER_AGENT,
      },
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    this.ws.on('open', () => this.onOpen());
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('error', (err) => (this.lastError = err));
    this.ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
  }

  /** When stream times count from: START sent, or the socket opening if START never went out. */
  get origin(): number | undefined {
    return this.startSentAt ?? this.openedAt;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * The connection between Twilio and the app breaks (a load balancer restarted, a network
   * fault): the TCP connection is torn down with no `stop` and no close frame. The call is still
   * up, so Twilio goes on to the `<Connect action>` URL.
   */
  breakConnection(): void {
    if (this.hangingUp || this.closedAt !== undefined) return;
    this.broken = true;
    this.quiesce();
    this.ws.terminate();
  }

  /** A key pressed now, in order with the audio already sent; false before START or once ending. */
  press(digit: string): boolean {
    if (this.startSentAt === undefined || this.hangingUp || this.closedAt !== undefined) return false;
    return this.send(this.counter.dtmf(digit));
  }

  /**
   * The caller hangs up now (or Twilio ends the stream because the call was redirected or
   * completed through the REST API): `stop` (if the stream started), then close.
   */
  hangup(by: 'caller' | 'twilio' = 'caller'): void {
    if (this.hangingUp || this.closedAt !== undefined) return;
    this.hangingUp = true;
    this.hangupBy = by;
    this.quiesce();
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
      return;
    }
    if (this.startSentAt !== undefined) this.send(this.counter.stop());
    this.ws.close(NORMAL_CLOSURE);
    // An app that never answers the close frame must not hold the call open.
    this.later(this.options.closeTimeoutMs, () => this.ws.terminate());
  }

  private onOpen(): void {
    this.openedAt = performance.now();
    this.subprotocol = this.ws.protocol || undefined;
    const { behaviour } = this.options;
    if (behaviour.hangupAfterMs !== undefined) this.later(behaviour.hangupAfterMs, () => this.hangup());
    if (behaviour.ghost) return;
    this.send(this.counter.connected());
    if (behaviour.noStart) return;
    const start = behaviour.startWhen
      ? () =>
          void behaviour.startWhen!().then(
            () => this.sendStart(),
            (err: unknown) => this.options.warn(undefined, `startWhen failed: ${String(err)}`),
          )
      : () => this.sendStart();
    if (behaviour.startDelayMs > 0) this.later(behaviour.startDelayMs, start);
    else start();
  }

  private sendStart(): void {
    if (this.hangingUp || !this.send(this.counter.start(this.options.customParameters))) return;
    this.startSentAt = performance.now();
    this.unsubscribeClock = this.options.clock.subscribe((tick) => this.onTick(tick));
    this.options.onStarted?.();
  }

  private onTick(tick: FrameTick): void {
    const startAt = this.startSentAt;
    // A shared clock may deliver a tick that fell due before this stream started.
    if (startAt === undefined || tick.dueAt < startAt || this.hangingUp) return;
    const timestampMs = tick.dueAt - startAt;
    while (this.dtmfQueue.length > 0 && this.dtmfQueue[0]!.atMs <= timestampMs) {
      this.send(this.counter.dtmf(this.dtmfQueue.shift()!.digit));
    }
    const index = this.counter.lastChunk;
    if (this.options.behaviour.hangupWhenScriptEnds && index >= this.scriptFrames) {
      this.hangup();
      return;
    }
    this.sendFrame(frameAt(this.options.script, index), timestampMs);
  }

  private sendFrame(audio: Buffer, timestampMs: number): void {
    const { ids, onFrame, clock } = this.options;
    const frame: OutgoingFrame = {
      callSid: ids.callSid,
      streamSid: ids.streamSid,
      chunk: this.counter.lastChunk + 1,
      timestampMs: Math.round(timestampMs),
      payload: audio,
      sentAt: performance.now(),
    };
    frame.payload = onFrame?.(frame) ?? frame.payload;
    frame.payload = clock.onFrame?.(frame) ?? frame.payload;
    if (!this.send(this.counter.media(frame.payload, timestampMs))) return;
    this.sentFrames++;
    if (this.options.recordSentPayloads) this.sentPayloads.push(frame.payload);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const at = performance.now();
    const result = readAppMessage(data, isBinary, this.options.ids.streamSid);
    if (!result.ok) {
      this.received.push({ event: result.event ?? 'invalid', at, valid: false });
      this.options.warn(result.code, result.reason);
      return;
    }
    const { message } = result;
    if (message.event === 'media') {
      const audio = result.audio ?? Buffer.alloc(0);
      this.received.push({ event: 'media', at, valid: true, bytes: audio.length });
      this.firstMediaAt ??= at;
      if (this.firstAudibleAt === undefined && containsAudible(audio)) this.firstAudibleAt = at;
      this.playback.enqueueAudio(audio, at);
      this.options.onMedia?.(audio, at);
    } else if (message.event === 'mark') {
      this.received.push({ event: 'mark', at, valid: true });
      this.playback.enqueueMark(message.mark.name, at);
    } else {
      this.received.push({ event: 'clear', at, valid: true });
      this.playback.clear(at);
    }
  }

  private echoMark(mark: PlaybackMark): void {
    if (!this.hangingUp) this.send(this.counter.mark(mark.name));
  }

  private onClose(code: number, reason: string): void {
    this.closedAt = performance.now();
    this.quiesce();
    const end: StreamEnd = {
      endedBy: this.endedBy(),
      closeCode: code,
      closeReason: reason,
    };
    if (this.lastError) end.error = this.lastError.message;
    const status = this.lastError?.message.match(UNEXPECTED_RESPONSE)?.[1];
    if (status !== undefined) end.upgradeStatus = Number(status);
    if (this.openedAt === undefined && !this.hangingUp) {
      this.options.warn(TWILIO_ERROR.streamHandshake, `stream WebSocket not opened: ${end.error ?? `close ${code}`}`);
    }
    this.resolveEnded(end);
  }

  /** Who ended the stream, as the close finds it: a hangup, a broken connection, the app, or no open at all. */
  private endedBy(): StreamEndedBy {
    if (this.hangingUp) return this.hangupBy;
    if (this.broken) return 'network';
    return this.openedAt !== undefined ? 'app' : 'handshake-failed';
  }

  /** Stops everything that produces traffic: frames, timers, playback. */
  private quiesce(): void {
    this.unsubscribeClock?.();
    this.unsubscribeClock = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.playback.stop();
  }

  private send(message: TwilioInboundMessage): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
