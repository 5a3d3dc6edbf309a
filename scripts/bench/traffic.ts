/**
 * Follows every stamped frame of one scenario, both ways:
 * - caller -> model: the caller double stamps each 20 ms frame (call index,
 *   chunk, send time); the Realtime double reads the stamps as appends arrive;
 * - model -> caller: the Realtime double stamps each output delta (session
 *   number, delta seq, send time); the caller double reads them on receipt.
 * Everything runs in the bench process, so both ends share `performance.now()`.
 *
 * Latency counts only the steady pipe: caller frames sent after the call's
 * first frame reached the model (earlier ones waited for the session to open),
 * and model deltas sent after START (a warm session's greeting generated before
 * START waits for the caller by design; the greeting histogram covers it).
 */
import type { OutgoingFrame } from '@voice/testkit';
import { LatencyHistogram } from './histogram.js';
import { SeqSet } from './seq-set.js';
import { STAMP_BYTES, type StampCodec } from './stamp.js';

/** Model deltas sent this close to the caller's hangup may legitimately never arrive. */
const HANGUP_GRACE_MS = 1000;

interface CallTrack {
  index: number;
  startSentAt: number | undefined;
  lastFrameAt: number | undefined;
  framesSent: number;
  arrivals: SeqSet;
  firstArrivalAt: number | undefined;
  greetingAt: number | undefined;
  /** Model deltas received, per model session number. */
  receipts: Map<number, SeqSet>;
}

interface SessionTrack {
  number: number;
  id: string;
  callIndex: number | undefined;
  /** Send time of each delta, by seq. */
  sentAt: number[];
  mixed: boolean;
}

export interface DirectionCounts {
  frames: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Audio that reached the wrong call (another call's stamps). */
  crossTalk: number;
}

export interface TrafficResult {
  callerToModel: DirectionCounts;
  modelToCaller: DirectionCounts;
  callerToModelLatency: LatencyHistogram;
  modelToCallerLatency: LatencyHistogram;
  /** Per call index: ms from START sent to the first model audio received (undefined: none). */
  greetingMs: Array<number | undefined>;
  /** Model sessions no caller frame or receipt could be tied to (e.g. a warm session never used). */
  orphanSessions: number;
  unreadableStamps: number;
}

export class TrafficRecorder {
  private readonly calls: CallTrack[] = [];
  private readonly sessions = new Map<string, SessionTrack>();
  private readonly sessionsByNumber: SessionTrack[] = [];
  private readonly c2mLatency = new LatencyHistogram();
  private readonly m2cLatency = new LatencyHistogram();
  private readonly c2m = { duplicated: 0, reordered: 0, crossTalk: 0 };
  private readonly m2c = { duplicated: 0, reordered: 0, crossTalk: 0 };
  private unreadable = 0;
  private c2mBeforeOpen = 0;
  private deltasReceived = 0;

  constructor(private readonly codec: StampCodec) {}

  addCall(index: number): void {
    this.calls[index] = {
      index,
      startSentAt: undefined,
      lastFrameAt: undefined,
      framesSent: 0,
      arrivals: new SeqSet(),
      firstArrivalAt: undefined,
      greetingAt: undefined,
      receipts: new Map(),
    };
  }

  // ---- caller double side ----

  /** FrameHook: stamps a copy of the caller's frame. */
  stampFrame(index: number, frame: OutgoingFrame): Buffer {
    const call = this.calls[index]!;
    call.lastFrameAt = frame.sentAt;
    call.framesSent = Math.max(call.framesSent, frame.chunk);
    const payload = Buffer.from(frame.payload);
    this.codec.write(payload, 'caller', { stream: index, seq: frame.chunk, sentAt: frame.sentAt });
    return payload;
  }

  /** When the caller sent START (`performance.now()`); greeting time and model latency count from it. */
  setStartSentAt(index: number, at: number): void {
    this.calls[index]!.startSentAt ??= at;
  }

  /** MediaHook of call `index`: reads the model's stamps in the audio it received. */
  onCallerMedia(index: number, audio: Buffer, at: number): void {
    const call = this.calls[index]!;
    for (const stamp of this.codec.findAll(audio, 'model')) {
      const session = this.sessionsByNumber[stamp.stream];
      if (!session) {
        this.unreadable++;
        continue;
      }
      this.deltasReceived++;
      session.callIndex ??= index;
      if (session.callIndex !== index) this.m2c.crossTalk++;
      let seen = call.receipts.get(session.number);
      if (!seen) call.receipts.set(session.number, (seen = new SeqSet()));
      const maxBefore = seen.maxSeq;
      if (seen.add(stamp.seq) > 0) this.m2c.duplicated++;
      else if (stamp.seq < maxBefore) this.m2c.reordered++;
      if (call.startSentAt !== undefined) {
        call.greetingAt ??= at;
        if (stamp.sentAt >= call.startSentAt) this.m2cLatency.recordMs(at - stamp.sentAt);
      }
    }
  }

  // ---- Realtime double side ----

  onAppend(sessionId: string, audio: Buffer, at: number): void {
    const session = this.session(sessionId);
    for (const stamp of this.codec.findAll(audio, 'caller')) {
      const call = this.calls[stamp.stream];
      if (!call) {
        this.unreadable++;
        continue;
      }
      if (session.callIndex === undefined) session.callIndex = call.index;
      else if (session.callIndex !== call.index && !session.mixed) {
        session.mixed = true;
        this.c2m.crossTalk++;
      }
      const maxBefore = call.arrivals.maxSeq;
      if (call.arrivals.add(stamp.seq) > 0) this.c2m.duplicated++;
      else if (stamp.seq < maxBefore) this.c2m.reordered++;
      call.firstArrivalAt ??= at;
      if (stamp.sentAt >= call.firstArrivalAt) this.c2mLatency.recordMs(at - stamp.sentAt);
      else this.c2mBeforeOpen++;
    }
  }

  /** Stamps a copy of an output delta with its session number, seq and send time. */
  onDelta(sessionId: string, audio: Buffer): Buffer {
    if (audio.length < STAMP_BYTES) return audio;
    const session = this.session(sessionId);
    const seq = session.sentAt.length;
    const sentAt = performance.now();
    session.sentAt.push(sentAt);
    const stamped = Buffer.from(audio);
    this.codec.write(stamped, 'model', { stream: session.number, seq, sentAt });
    return stamped;
  }

  // ---- results ----

  /** Counters for the progress line. */
  progress(): { framesSent: number; framesArrived: number; deltasReceived: number; greetings: number } {
    let framesSent = 0;
    let greetings = 0;
    for (const call of this.calls) {
      framesSent += call.framesSent;
      if (call.greetingAt !== undefined) greetings++;
    }
    return {
      framesSent,
      framesArrived: this.c2mLatency.count + this.c2mBeforeOpen,
      deltasReceived: this.deltasReceived,
      greetings,
    };
  }

  result(): TrafficResult {
    let c2mLost = 0;
    let c2mFrames = 0;
    for (const call of this.calls) {
      c2mFrames += call.framesSent;
      c2mLost += call.arrivals.missingIn(1, call.framesSent);
    }
    let m2cLost = 0;
    let m2cFrames = 0;
    let orphans = 0;
    for (const session of this.sessionsByNumber) {
      const call = session.callIndex === undefined ? undefined : this.calls[session.callIndex];
      if (!call) {
        orphans++;
        continue;
      }
      const seen = call.receipts.get(session.number);
      const deadline = (call.lastFrameAt ?? Infinity) - HANGUP_GRACE_MS;
      session.sentAt.forEach((sentAt, seq) => {
        if (sentAt > deadline) return;
        m2cFrames++;
        if (!seen?.has(seq)) m2cLost++;
      });
    }
    return {
      callerToModel: { frames: c2mFrames, lost: c2mLost, ...this.c2m },
      modelToCaller: { frames: m2cFrames, lost: m2cLost, ...this.m2c },
      callerToModelLatency: this.c2mLatency,
      modelToCallerLatency: this.m2cLatency,
      greetingMs: this.calls.map((c) =>
        c.greetingAt === undefined || c.startSentAt === undefined ? undefined : c.greetingAt - c.startSentAt,
      ),
      orphanSessions: orphans,
      unreadableStamps: this.unreadable,
    };
  }

  private session(id: string): SessionTrack {
    let session = this.sessions.get(id);
    if (!session) {
      session = { number: this.sessionsByNumber.length, id, callIndex: undefined, sentAt: [], mixed: false };
      this.sessions.set(id, session);
      this.sessionsByNumber.push(session);
    }
    return session;
  }
}
