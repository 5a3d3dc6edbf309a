/**
 * G.711 mu-law codec. Twilio Media Streams and the Realtime API's `audio/pcmu`
 * format both carry 8 kHz mono mu-law, so the call path itself never transcodes;
 * this is for the doubles (VAD energy, speech synthesis) and for WAV recordings.
 */

const BIAS = 0x84;
const CLIP = 32635;

/** Mu-law byte that decodes to zero: what Twilio sends when nobody speaks. */
export const MULAW_SILENCE = 0xff;

const DECODE_TABLE = buildDecodeTable();

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const sign = u & 0x80;
    const exponent = (u >> 4) & 0x07;
    const mantissa = u & 0x0f;
    let sample = ((mantissa << 3) + BIAS) << exponent;
    sample -= BIAS;
    table[i] = sign ? -sample : sample;
  }
  return table;
}

export function mulawDecodeSample(byte: number): number {
  return DECODE_TABLE[byte & 0xff] ?? 0;
}

export function mulawEncodeSample(pcm: number): number {
  let sample = Math.max(-32768, Math.min(32767, Math.round(pcm)));
  const sign = sample < 0 ? 0x80 : 0;
  if (sign) sample = -sample;
  if (sample > CLIP) sample = CLIP;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function mulawDecode(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE_TABLE[bytes[i]!]!;
  return out;
}

export function mulawEncode(pcm: Int16Array): Buffer {
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = mulawEncodeSample(pcm[i]!);
  return out;
}

/** Root-mean-square level of a mu-law buffer, in linear 16-bit units (0 = digital silence). */
export function mulawRms(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) {
    const s = DECODE_TABLE[bytes[i]!]!;
    sum += s * s;
  }
  return Math.sqrt(sum / bytes.length);
}
