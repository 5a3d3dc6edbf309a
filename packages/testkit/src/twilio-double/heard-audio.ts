/**
 * What the caller heard, as one mu-law timeline: played segments placed at
 * their start time (ms since the stream's START), silence in the gaps.
 */
import { writeFile } from 'node:fs/promises';
import {
  BYTES_PER_MS,
  FRAME_BYTES,
  MULAW_SILENCE,
  SAMPLE_RATE_HZ,
  encodeWavPcm16,
  mulawDecode,
  mulawRms,
} from '@voice/protocols';
import { AUDIBLE_RMS_THRESHOLD } from './constants.js';

export interface HeardSegment {
  /** When this audio started playing, in ms since START was sent. */
  startMs: number;
  bytes: Buffer;
}

export function assembleTimeline(segments: readonly HeardSegment[]): Buffer {
  const offsetOf = (s: HeardSegment) => Math.max(0, Math.round(s.startMs * BYTES_PER_MS));
  const length = segments.reduce((max, s) => Math.max(max, offsetOf(s) + s.bytes.length), 0);
  const out = Buffer.alloc(length, MULAW_SILENCE);
  for (const segment of segments) segment.bytes.copy(out, offsetOf(segment));
  return out;
}

/** Ms of audio whose 20 ms windows are louder than comfort noise. */
export function audibleMs(audio: Uint8Array): number {
  let frames = 0;
  for (let offset = 0; offset < audio.length; offset += FRAME_BYTES) {
    if (isAudible(audio.subarray(offset, offset + FRAME_BYTES))) frames++;
  }
  return (frames * FRAME_BYTES) / BYTES_PER_MS;
}

/** Whether any 20 ms window of `audio` is audible. */
export function containsAudible(audio: Uint8Array): boolean {
  for (let offset = 0; offset < audio.length; offset += FRAME_BYTES) {
    if (isAudible(audio.subarray(offset, offset + FRAME_BYTES))) return true;
  }
  return false;
}

/**
 * The longest stretch of silence the caller heard in `audio` (a heard timeline
 * from START: assembleTimeline), from `fromMs` up to `toMs` (default: its end),
 * in whole 20 ms windows, with where it began. Played audio below the audible
 * threshold counts as silence: it is what the caller heard.
 */
export function longestSilence(
  audio: Uint8Array,
  fromMs = 0,
  toMs = audio.length / BYTES_PER_MS,
): { ms: number; atMs: number } {
  const from = Math.max(0, Math.floor((fromMs * BYTES_PER_MS) / FRAME_BYTES) * FRAME_BYTES);
  const to = Math.min(Math.round(toMs * BYTES_PER_MS), audio.length);
  let best = { bytes: 0, at: from };
  let runStart = -1;
  for (let offset = from; offset < to; offset += FRAME_BYTES) {
    if (!isAudible(audio.subarray(offset, Math.min(offset + FRAME_BYTES, to)))) {
      if (runStart < 0) runStart = offset;
      const run = Math.min(offset + FRAME_BYTES, to) - runStart;
      if (run > best.bytes) best = { bytes: run, at: runStart };
    } else runStart = -1;
  }
  return { ms: best.bytes / BYTES_PER_MS, atMs: best.at / BYTES_PER_MS };
}

function isAudible(window: Uint8Array): boolean {
  return mulawRms(window) > AUDIBLE_RMS_THRESHOLD;
}

/** A 16-bit PCM 8 kHz mono WAV of mu-law audio. */
export function mulawToWav(audio: Uint8Array): Buffer {
  return encodeWavPcm16({ sampleRate: SAMPLE_RATE_HZ, samples: mulawDecode(audio) });
}

export async function writeMulawWav(path: string, audio: Uint8Array): Promise<void> {
  await writeFile(path, mulawToWav(audio));
}
