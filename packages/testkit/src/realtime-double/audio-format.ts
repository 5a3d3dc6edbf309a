/**
 * The two GA audio formats the double speaks: `audio/pcmu` (8 kHz mu-law, what
 * Twilio carries) and `audio/pcm` (24 kHz 16-bit little-endian, the API's
 * default). Speech is synthesised as mu-law, so pcm output is upsampled.
 */
import { SAMPLE_RATE_HZ, mulawDecode, mulawRms, resample } from '@voice/protocols';
import { PCM16_BYTES_PER_MS, PCM16_RATE_HZ, PCMU_BYTES_PER_MS } from './constants.js';
import type { AudioFormat } from './session-config.js';

export interface AudioFormatInfo {
  bytesPerMs: number;
  /** Root-mean-square level in linear 16-bit units. */
  rms(bytes: Uint8Array): number;
}

const PCMU: AudioFormatInfo = { bytesPerMs: PCMU_BYTES_PER_MS, rms: mulawRms };
const PCM16: AudioFormatInfo = { bytesPerMs: PCM16_BYTES_PER_MS, rms: pcm16Rms };

export function formatInfo(format: AudioFormat): AudioFormatInfo {
  return format.type === 'audio/pcmu' ? PCMU : PCM16;
}

/** Converts synthesised 8 kHz mu-law into the session's output format. */
export function encodeOutputAudio(mulaw: Buffer, format: AudioFormat): Buffer {
  if (format.type === 'audio/pcmu') return mulaw;
  const pcm = resample(mulawDecode(mulaw), SAMPLE_RATE_HZ, PCM16_RATE_HZ);
  const out = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i]!, i * 2);
  return out;
}

function pcm16Rms(bytes: Uint8Array): number {
  const samples = Math.floor(bytes.length / 2);
  if (samples === 0) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, samples * 2);
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    const s = view.getInt16(i * 2, true);
    sum += s * s;
  }
  return Math.sqrt(sum / samples);
}
