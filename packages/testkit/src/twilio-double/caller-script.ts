/**
 * What the simulated caller says: a list of segments rendered once, before the
 * stream opens (speech synthesis takes a few hundred ms and must not delay
 * frames), into one mu-law buffer that the stream cuts into 20 ms frames.
 */
import { BYTES_PER_MS, FRAME_BYTES, MULAW_SILENCE } from '@voice/protocols';
import { synthesizeMulaw } from '../audio/speech.js';
import { CALLER_DEFAULTS } from './constants.js';

export type ScriptSegment = { silenceMs: number } | { say: string } | { audio: Buffer };

export const DEFAULT_CALLER_SCRIPT: readonly ScriptSegment[] = [
  { silenceMs: CALLER_DEFAULTS.leadingSilenceMs },
  { say: CALLER_DEFAULTS.utterance },
];

export async function renderScript(segments: readonly ScriptSegment[]): Promise<Buffer> {
  const parts = await Promise.all(segments.map(renderSegment));
  return Buffer.concat(parts);
}

function renderSegment(segment: ScriptSegment): Promise<Buffer> | Buffer {
  if ('silenceMs' in segment) return Buffer.alloc(Math.round(segment.silenceMs * BYTES_PER_MS), MULAW_SILENCE);
  if ('say' in segment) return synthesizeMulaw(segment.say);
  return segment.audio;
}

export function frameCount(audio: Buffer): number {
  return Math.ceil(audio.length / FRAME_BYTES);
}

/**
 * Frame `index` (from 0) of the script; past the end it is silence, as a
 * phone line is when the caller says nothing. The last partial frame is padded.
 */
export function frameAt(audio: Buffer, index: number): Buffer {
  const start = index * FRAME_BYTES;
  if (start + FRAME_BYTES <= audio.length) return Buffer.from(audio.subarray(start, start + FRAME_BYTES));
  const frame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
  if (start < audio.length) audio.copy(frame, 0, start);
  return frame;
}
