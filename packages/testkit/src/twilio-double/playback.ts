/**
 * The caller's earpiece. Audio the app sends is queued and played at real time
 * (8 bytes per ms) from the moment it arrives, or from the end of what is
 * already queued. Marks sit in the queue between audio and are echoed when
 * playback reaches them; `clear` drops the unplayed audio and echoes every
 * pending mark at once.
 *
 * All playback positions are computed from timestamps, so they are exact even
 * when the event loop is late; a timer only decides when to echo marks.
 */
import { BYTES_PER_MS } from '@voice/protocols';

/** A stretch of audio that plays from `at` (`performance.now()` scale) on. */
export interface PlaybackSegment {
  at: number;
  bytes: Buffer;
}

export interface PlaybackMark {
  name: string;
  receivedAt: number;
  /** When playback reaches the mark (all audio queued before it has played). */
  dueAt: number;
  echoedAt?: number;
  /** True when echoed because playback reached it; false when a clear flushed it. */
  played?: boolean;
}

export interface PlaybackClear {
  at: number;
  droppedMs: number;
  flushedMarks: string[];
}

export type MarkEchoer = (mark: PlaybackMark) => void;

export class PhonePlayback {
  readonly marks: PlaybackMark[] = [];
  readonly clears: PlaybackClear[] = [];
  private readonly segments: PlaybackSegment[] = [];
  private readonly pending: PlaybackMark[] = [];
  /** When everything queued so far will have played. */
  private queueEndAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly echo: MarkEchoer,
    private readonly now: () => number = () => performance.now(),
  ) {}

  enqueueAudio(bytes: Buffer, at = this.now()): void {
    if (this.stopped || bytes.length === 0) return;
    const startAt = Math.max(at, this.queueEndAt);
    this.segments.push({ at: startAt, bytes });
    this.queueEndAt = startAt + bytes.length / BYTES_PER_MS;
  }

  enqueueMark(name: string, at = this.now()): void {
    if (this.stopped) return;
    const mark: PlaybackMark = { name, receivedAt: at, dueAt: Math.max(at, this.queueEndAt) };
    this.marks.push(mark);
    this.pending.push(mark);
    this.echoDue(at);
    this.arm();
  }

  /** Drops what has not played yet; returns how many ms were dropped. */
  clear(at = this.now()): PlaybackClear {
    // Marks the clock already passed were played, even if their timer is late.
    this.echoDue(at);
    const record: PlaybackClear = { at, droppedMs: Math.max(0, this.queueEndAt - at), flushedMarks: [] };
    this.cutAt(at);
    for (const mark of this.pending.splice(0)) {
      record.flushedMarks.push(mark.name);
      this.settle(mark, at, false);
    }
    this.disarm();
    this.clears.push(record);
    return record;
  }

  /** The call ended: nothing more plays, pending marks are never echoed. */
  stop(at = this.now()): void {
    if (this.stopped) return;
    this.echoDue(at);
    this.stopped = true;
    this.cutAt(at);
    this.pending.length = 0;
    this.disarm();
  }

  /** Audio actually played up to `at`: each segment cut where playback stood. */
  played(at = this.now()): PlaybackSegment[] {
    const out: PlaybackSegment[] = [];
    for (const segment of this.segments) {
      const bytes = Math.min(segment.bytes.length, playedBytes(segment, at));
      if (bytes > 0) out.push({ at: segment.at, bytes: segment.bytes.subarray(0, bytes) });
    }
    return out;
  }

  /** Ms of audio queued and not yet played. */
  queuedMs(at = this.now()): number {
    return Math.max(0, this.queueEndAt - at);
  }

  private cutAt(at: number): void {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      const keep = playedBytes(segment, at);
      if (keep >= segment.bytes.length) break;
      if (keep > 0) segment.bytes = segment.bytes.subarray(0, keep);
      else this.segments.splice(i, 1);
    }
    this.queueEndAt = Math.min(this.queueEndAt, at);
  }

  private echoDue(at: number): void {
    while (this.pending.length > 0 && this.pending[0]!.dueAt <= at) {
      const mark = this.pending.shift()!;
      this.settle(mark, at, true);
    }
  }

  private settle(mark: PlaybackMark, at: number, played: boolean): void {
    mark.echoedAt = at;
    mark.played = played;
    this.echo(mark);
  }

  private arm(): void {
    this.disarm();
    const next = this.pending[0];
    if (!next || this.stopped) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next.dueAt - this.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.echoDue(this.now());
    // Timers may fire a fraction of a ms early on the performance.now() scale: re-arm.
    this.arm();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function playedBytes(segment: PlaybackSegment, at: number): number {
  return Math.max(0, Math.floor((at - segment.at) * BYTES_PER_MS));
}
