/**
 * A stream accepted at START: the call it belongs to, its counts, and both
 * directions of its audio (STYLE 16: the counters change only in here).
 * Toward the caller it sends Twilio messages (agent audio, marks, clear,
 * clips); toward the bridge it forwards caller records over the call's media
 * link channel, holding them (bounded) while no bridge is attached.
 */
import type { Logger } from '@voice/logging';
import type { ClipName, FromCallerRecord, GatewayRecord, GatewaySideLink } from '@voice/media-link';
import type { TwilioOutboundMessage } from '@voice/protocols';
import type { ClipLibrary } from '../clips.js';
import type { GatewayMetrics } from '../metrics.js';
import type { CallCheckpoints } from './call-checkpoints.js';
import { HoldLoop } from './hold-loop.js';
import { PlayoutEstimate } from './playout-estimate.js';

/** A caller record before the channel it goes on is known. */
export type CallerRecord = FromCallerRecord;

export interface BridgeAttachment {
  link: GatewaySideLink;
  ch: number;
  /** The bridge instance that owns the call. */
  owner: string;
}

export interface StreamDeps {
  /** Sends one message on the Twilio socket; false when it is closed. */
  send(message: TwilioOutboundMessage): boolean;
  metrics: GatewayMetrics;
  clips: ClipLibrary;
  checkpoints: CallCheckpoints;
  log: Logger;
  maxHeldCallerRecords: number;
  /** Silence between two plays of the hold clip while the caller waits. */
  holdGapMs: number;
}

export class ActiveStream {
  /** Caller media frames received from Twilio. */
  rx = 0;
  /** Media messages sent to Twilio (model audio and clips), and the audio bytes in them. */
  tx = 0;
  txBytes = 0;
  /**
   * Epoch ms the first model audio went to the caller. Clips do not set it: it times
   * first_greeting_audio_ms, and a hold clip is not the agent answering.
   */
  firstAudioAt: number | undefined;
  readonly playout = new PlayoutEstimate();
  /** The hold clip, repeated while the caller waits (`hold` records, a bridge lost). */
  readonly hold: HoldLoop;
  private attachment: BridgeAttachment | undefined;
  private held: CallerRecord[] = [];
  private heldDropped = 0;
  /** Set while the call moves between bridges: keys pressed meanwhile wait for the switch (holdKeys). */
  private keysOnHold: CallerRecord[] | undefined;
  /** How many of keysOnHold the old bridge gave back: they lead, in the order it gave them. */
  private keysGivenBack = 0;

  constructor(
    readonly callSid: string,
    readonly streamSid: string,
    /** Epoch ms START was read off the socket. */
    readonly startReceivedAt: number,
    private readonly deps: StreamDeps,
  ) {
    this.hold = new HoldLoop(
      {
        playHold: () => this.playClip('hold'),
        queuedMs: () => this.playout.remainingMs(Date.now()),
        clear: () => this.clear(),
      },
      deps.holdGapMs,
    );
  }

  get log(): Logger {
    return this.deps.log;
  }

  get bridge(): BridgeAttachment | undefined {
    return this.attachment;
  }

  // ---- caller -> bridge ----

  /** A caller audio frame (the hot path: 50 per second per call). */
  forwardMedia(payload: string): void {
    this.rx++;
    this.deps.metrics.rxFrames.inc();
    this.toBridge({ t: 'media', payload });
  }

  forwardMark(name: string): void {
    this.toBridge({ t: 'mark', name });
  }

  forwardDtmf(digit: string): void {
    if (this.keysOnHold) this.holdIn(this.keysOnHold, { t: 'dtmf', digit });
    else this.toBridge({ t: 'dtmf', digit });
  }

  /**
   * A planned move has begun: until releaseKeys(), key presses wait here instead of going to the
   * old bridge, which would drop them when it hands the call over (an entry it had only started).
   * Audio and marks still go to the old bridge: its model is the one speaking until the switch.
   */
  holdKeys(): void {
    if (this.keysOnHold) return;
    this.keysOnHold = [];
    this.keysGivenBack = 0;
  }

  /**
   * Keys the old bridge gave up with its `rehome` (an entry it had begun): they go before any key
   * pressed since, to wherever held keys go (the bridge the call is on when there is no move).
   */
  returnKeys(keys: string): void {
    const records: CallerRecord[] = [...keys].map((digit) => ({ t: 'dtmf', digit }));
    if (this.keysOnHold) {
      // A second `rehome` during the move gives back keys typed after the first one's and before
      // any the gateway held: they go after the keys given back before, ahead of the held ones.
      this.keysOnHold.splice(this.keysGivenBack, 0, ...records);
      this.keysGivenBack += records.length;
    } else for (const record of records) this.toBridge(record);
  }

  /** The move is over (switched, given up, or the call ended): held keys go to the bridge the call is on now. */
  releaseKeys(): void {
    const keys = this.keysOnHold;
    this.keysOnHold = undefined;
    for (const key of keys ?? []) this.toBridge(key);
  }

  /** The bridge took the call on `ch`: what the caller said meanwhile goes first, in order. */
  attach(attachment: BridgeAttachment): number {
    this.attachment = attachment;
    const held = this.held;
    this.held = [];
    for (const record of held) attachment.link.send({ ...record, ch: attachment.ch } as GatewayRecord);
    if (this.heldDropped > 0)
      this.log.warn('caller audio dropped while no bridge was attached', { dropped: this.heldDropped });
    this.heldDropped = 0;
    return held.length;
  }

  /** The bridge's link died: hold caller audio until another bridge is attached. */
  detach(): BridgeAttachment | undefined {
    const previous = this.attachment;
    this.attachment = undefined;
    return previous;
  }

  private toBridge(record: CallerRecord): void {
    const a = this.attachment;
    if (a) a.link.send({ ...record, ch: a.ch } as GatewayRecord);
    else this.holdIn(this.held, record);
  }

  /** Held records are bounded: past the bound they are dropped and counted (logged at the next attach). */
  private holdIn(queue: CallerRecord[], record: CallerRecord): void {
    if (queue.length < this.deps.maxHeldCallerRecords) queue.push(record);
    else this.heldDropped++;
  }

  // ---- bridge -> caller ----

  /** One media message to the caller, counted the same whatever its source (model audio or a clip). */
  sendAudio(payload: string, bytes: number): boolean {
    if (!this.deps.send({ event: 'media', streamSid: this.streamSid, media: { payload } })) return false;
    this.tx++;
    this.txBytes += bytes;
    this.playout.queued(bytes, Date.now());
    this.deps.metrics.txMedia.inc();
    return true;
  }

  sendMark(name: string): boolean {
    if (!this.deps.send({ event: 'mark', streamSid: this.streamSid, mark: { name } })) return false;
    this.deps.metrics.txMark.inc();
    return true;
  }

  /** Drops everything Twilio still has queued (barge-in). */
  clear(): void {
    if (!this.deps.send({ event: 'clear', streamSid: this.streamSid })) return;
    this.deps.metrics.txClear.inc();
    this.playout.cleared(Date.now());
  }

  /**
   * Sends a pre-rendered clip as ordinary media messages, so Twilio queues it behind
   * whatever audio is already going out, and notes it on the timeline. It does not count
   * as the first model audio. False when the socket was no longer open.
   */
  playClip(name: ClipName): boolean {
    const clip = this.deps.clips.get(name);
    if (!clip) {
      // loadClips() refuses to start without every ClipName, so this is a programming error.
      this.log.error('clip not loaded', { clip: name });
      return false;
    }
    for (const chunk of clip.chunks) {
      if (!this.sendAudio(chunk.payload, chunk.bytes)) return false;
    }
    this.deps.metrics.clipsPlayed.labels({ clip: name }).inc();
    this.deps.checkpoints.record('clip.played', { clip: name, audio_ms: clip.durationMs });
    return true;
  }
}
