/** Telephony audio as Twilio Media Streams carries it: 8 kHz mono mu-law, 20 ms frames. */
export const SAMPLE_RATE_HZ = 8000;
export const BYTES_PER_MS = SAMPLE_RATE_HZ / 1000;
export const FRAME_MS = 20;
export const FRAME_BYTES = FRAME_MS * BYTES_PER_MS;

export function bytesToMs(bytes: number): number {
  return bytes / BYTES_PER_MS;
}

/** Length in bytes of the data a base64 string encodes, without decoding it. */
export function base64DecodedLength(b64: string): number {
  const len = b64.length;
  if (len === 0) return 0;
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((len * 3) / 4) - padding;
}
