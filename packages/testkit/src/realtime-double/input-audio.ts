/**
 * The input audio buffer and its timeline: how many ms of input the session
 * has received, where the uncommitted buffer starts, and the server VAD that
 * turns appended audio into speech_started / speech_stopped positions.
 */
import { formatInfo } from './audio-format.js';
import type { AudioFormatInfo } from './audio-format.js';
import { SERVER_VAD_DEFAULTS } from './constants.js';
import type { AudioFormat, TurnDetection } from './session-config.js';
import { EnergyVad } from './vad.js';

export type TurnEvent =
  { type: 'speech_started'; audioStartMs: number } | { type: 'speech_stopped'; audioEndMs: number };

export class InputAudioBuffer {
  /** Ms of input audio received since the session started. */
  private timelineMs = 0;
  /** Timeline position where the uncommitted buffer begins. */
  private bufferStartMs = 0;
  private vad: EnergyVad | undefined;
  private vadFormat: AudioFormatInfo | undefined;

  get receivedMs(): number {
    return this.timelineMs;
  }

  get bufferedMs(): number {
    return this.timelineMs - this.bufferStartMs;
  }

  get speechInProgress(): boolean {
    return this.vad?.isSpeaking ?? false;
  }

  /**
   * Adds appended bytes to the timeline and runs the VAD when turn detection is
   * on (semantic_vad is approximated by the same energy detector).
   */
  append(bytes: Buffer, format: AudioFormat, turnDetection: TurnDetection | null): TurnEvent[] {
    const info = formatInfo(format);
    const events: TurnEvent[] = [];
    if (turnDetection) {
      if (!this.vad || this.vadFormat !== info) {
        this.vad = new EnergyVad(info, this.timelineMs);
        this.vadFormat = info;
      }
      const settings = {
        threshold: turnDetection.threshold ?? SERVER_VAD_DEFAULTS.threshold,
        silenceDurationMs: turnDetection.silence_duration_ms ?? SERVER_VAD_DEFAULTS.silence_duration_ms,
      };
      const prefixPaddingMs = turnDetection.prefix_padding_ms ?? SERVER_VAD_DEFAULTS.prefix_padding_ms;
      // The padding cannot reach back into audio already committed, including by a stop in this same chunk.
      let floorMs = this.bufferStartMs;
      for (const e of this.vad.push(bytes, settings)) {
        if (e.type === 'speech_stopped') {
          floorMs = e.audioEndMs;
          events.push(e);
        } else {
          events.push({ type: 'speech_started', audioStartMs: Math.max(floorMs, e.speechAtMs - prefixPaddingMs) });
        }
      }
    } else {
      this.vad = undefined;
      this.vadFormat = undefined;
    }
    this.timelineMs += bytes.length / info.bytesPerMs;
    return events;
  }

  /**
   * Commits the buffer up to `endMs` (the VAD's stop position; the client's
   * commit takes everything received). Returns the committed span.
   */
  commit(endMs: number = this.timelineMs): { startMs: number; endMs: number } {
    const span = { startMs: this.bufferStartMs, endMs };
    this.bufferStartMs = endMs;
    return span;
  }

  /** A client commit or clear also ends any speech the VAD was tracking. */
  resetSpeech(): void {
    this.vad?.reset();
  }

  clear(): void {
    this.bufferStartMs = this.timelineMs;
    this.resetSpeech();
  }
}
