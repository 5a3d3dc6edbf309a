/**
 * A media stream's records with times made relative to the stream's origin
 * (START sent), the scale tests and reports reason in. Recording stays in
 * absolute `performance.now()` time so nothing has to know the origin early.
 */
import { BYTES_PER_MS, mulawRms } from '@voice/protocols';
import { assembleTimeline, audibleMs, writeMulawWav } from './heard-audio.js';
import type { HeardSegment } from './heard-audio.js';
import type { MediaStreamSession } from './media-stream.js';
import type { ClearRecord, MarkEcho, ReceivedMessage } from './types.js';

/** Records are kept to 0.1 ms: finer digits are timer noise. */
const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

export class StreamView {
  /** `origin`: where times count from (default this stream's START; a call's later streams use its first). */
  constructor(
    private readonly session: MediaStreamSession,
    private readonly origin: () => number | undefined = () => session.origin,
  ) {}

  private rel(at: number): number {
    return roundMs(at - (this.origin() ?? at));
  }

  received(): ReceivedMessage[] {
    return this.session.received.map((r) => ({
      event: r.event,
      atMs: this.rel(r.at),
      valid: r.valid,
      ...(r.bytes === undefined ? {} : { bytes: r.bytes }),
    }));
  }

  marks(): MarkEcho[] {
    return this.session.playback.marks.map((m) => ({
      name: m.name,
      receivedAtMs: this.rel(m.receivedAt),
      ...(m.echoedAt === undefined ? {} : { echoedAtMs: this.rel(m.echoedAt) }),
      ...(m.played === undefined ? {} : { played: m.played }),
    }));
  }

  clears(): ClearRecord[] {
    return this.session.playback.clears.map((c) => ({
      atMs: this.rel(c.at),
      droppedMs: roundMs(c.droppedMs),
      flushedMarks: [...c.flushedMarks],
    }));
  }

  /** What has actually played so far (cut short by clears and by the end of the call). */
  heardSegments(): HeardSegment[] {
    return this.session.playback.played().map((s) => ({ startMs: this.rel(s.at), bytes: s.bytes }));
  }

  heardAudio(): Buffer {
    return assembleTimeline(this.heardSegments());
  }

  heardMs(): number {
    return this.heardSegments().reduce((sum, s) => sum + s.bytes.length, 0) / BYTES_PER_MS;
  }

  /** RMS of the played audio alone (gaps excluded); 0 when nothing audible played. */
  heardRms(): number {
    return mulawRms(Buffer.concat(this.heardSegments().map((s) => s.bytes)));
  }

  heardAudibleMs(): number {
    return audibleMs(Buffer.concat(this.heardSegments().map((s) => s.bytes)));
  }

  writeWav(path: string): Promise<void> {
    return writeMulawWav(path, this.heardAudio());
  }

  get firstAudioAtMs(): number | undefined {
    const at = this.session.firstAudibleAt;
    return at === undefined ? undefined : this.rel(at);
  }

  get firstMediaAtMs(): number | undefined {
    const at = this.session.firstMediaAt;
    return at === undefined ? undefined : this.rel(at);
  }
}
