/**
 * Energy-based server VAD driven by the audio timeline, not the wall clock:
 * every 20 ms window of appended audio is loud or quiet, and speech starts and
 * stops at positions in the input audio. That makes it deterministic however
 * fast a client (or a test) appends.
 */
import { VAD_FRAME_MS, VAD_MIN_SPEECH_MS, VAD_RMS_AT_FULL_THRESHOLD } from './constants.js';
import type { AudioFormatInfo } from './audio-format.js';

export interface VadSettings {
  /** The API's 0..1 `threshold`. */
  threshold: number;
  silenceDurationMs: number;
}

export type VadEvent =
  /** `speechAtMs` is where loud audio began; the session subtracts the prefix padding. */
  { type: 'speech_started'; speechAtMs: number } | { type: 'speech_stopped'; audioEndMs: number };

export class EnergyVad {
  private readonly frameBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  /** Timeline position of the start of `pending`. */
  private positionMs: number;
  private speaking = false;
  private loudRunMs = 0;
  private loudRunStartMs = 0;
  private quietRunMs = 0;

  constructor(
    private readonly format: AudioFormatInfo,
    startMs: number,
  ) {
    this.frameBytes = VAD_FRAME_MS * format.bytesPerMs;
    this.positionMs = startMs;
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  /** Feeds appended audio; returns the transitions it caused, in timeline order. */
  push(chunk: Buffer, settings: VadSettings): VadEvent[] {
    const events: VadEvent[] = [];
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const rmsThreshold = settings.threshold * VAD_RMS_AT_FULL_THRESHOLD;
    let offset = 0;
    for (; offset + this.frameBytes <= data.length; offset += this.frameBytes) {
      const loud = this.format.rms(data.subarray(offset, offset + this.frameBytes)) > rmsThreshold;
      const frameStartMs = this.positionMs;
      this.positionMs += VAD_FRAME_MS;
      const event = this.speaking ? this.whileSpeaking(loud, settings) : this.whileQuiet(loud, frameStartMs);
      if (event) events.push(event);
    }
    this.pending = Buffer.from(data.subarray(offset));
    return events;
  }

  /** Forgets any speech in progress (the buffer was committed or cleared by the client). */
  reset(): void {
    this.speaking = false;
    this.loudRunMs = 0;
    this.quietRunMs = 0;
  }

  private whileQuiet(loud: boolean, frameStartMs: number): VadEvent | undefined {
    if (!loud) {
      this.loudRunMs = 0;
      return undefined;
    }
    if (this.loudRunMs === 0) this.loudRunStartMs = frameStartMs;
    this.loudRunMs += VAD_FRAME_MS;
    if (this.loudRunMs < VAD_MIN_SPEECH_MS) return undefined;
    this.speaking = true;
    this.quietRunMs = 0;
    return { type: 'speech_started', speechAtMs: this.loudRunStartMs };
  }

  private whileSpeaking(loud: boolean, settings: VadSettings): VadEvent | undefined {
    if (loud) {
      this.quietRunMs = 0;
      return undefined;
    }
    this.quietRunMs += VAD_FRAME_MS;
    if (this.quietRunMs < settings.silenceDurationMs) return undefined;
    this.speaking = false;
    this.loudRunMs = 0;
    // Like the real API, the end position includes the silence that confirmed it.
    return { type: 'speech_stopped', audioEndMs: this.positionMs };
  }
}
