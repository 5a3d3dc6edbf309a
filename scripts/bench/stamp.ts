/**
 * Latency stamps carried inside the audio itself. A stamp is 21 mu-law bytes,
 * each 0xF0 | nibble: those bytes decode to samples of at most 120 (16-bit
 * linear), far under the Realtime double's VAD threshold (RMS 200) and the
 * caller's "audible" threshold, so stamped silence stays silence. The system
 * passes audio through byte for byte, so the far end reads the stamp back:
 *
 *   magic (4 nibbles) | stream (3: call index or model session number)
 *   | seq (5) | sent time (8: µs since the bench's epoch) | checksum (1)
 */

export type StampKind = 'caller' | 'model';

export interface Stamp {
  /** Call index (caller stamps) or model session number (model stamps). */
  stream: number;
  /** Frame (caller) or delta (model) sequence number within the stream. */
  seq: number;
  /** When it was sent, `performance.now()` ms (rounded to the µs). */
  sentAt: number;
}

const NIBBLE_HIGH = 0xf0;
const MAGIC: Record<StampKind, readonly number[]> = { caller: [0xa, 0x5, 0xc, 0x3], model: [0x5, 0xa, 0x3, 0xc] };
const STREAM_NIBBLES = 3;
const SEQ_NIBBLES = 5;
const TIME_NIBBLES = 8;
const MAGIC_NIBBLES = 4;
export const STAMP_BYTES = MAGIC_NIBBLES + STREAM_NIBBLES + SEQ_NIBBLES + TIME_NIBBLES + 1;
export const MAX_STAMP_STREAM = 16 ** STREAM_NIBBLES - 1;
const SEQ_MODULO = 16 ** SEQ_NIBBLES;
const TIME_MODULO = 16 ** TIME_NIBBLES;
const US_PER_MS = 1000;

const MAGIC_BYTES: Record<StampKind, Buffer> = {
  caller: Buffer.from(MAGIC.caller.map((n) => NIBBLE_HIGH | n)),
  model: Buffer.from(MAGIC.model.map((n) => NIBBLE_HIGH | n)),
};

export class StampCodec {
  /** `epoch`: the `performance.now()` that sent times count from (the 32-bit µs clock wraps after 71 minutes). */
  constructor(private readonly epoch: number) {}

  /** Writes a stamp at `offset` of `target` (which must have room for STAMP_BYTES). */
  write(target: Buffer, kind: StampKind, stamp: Stamp, offset = 0): void {
    const us = Math.round((stamp.sentAt - this.epoch) * US_PER_MS) % TIME_MODULO;
    const nibbles = [
      ...MAGIC[kind],
      ...toNibbles(stamp.stream, STREAM_NIBBLES),
      ...toNibbles(stamp.seq % SEQ_MODULO, SEQ_NIBBLES),
      ...toNibbles(us, TIME_NIBBLES),
    ];
    nibbles.push(checksum(nibbles.slice(MAGIC_NIBBLES)));
    for (let i = 0; i < nibbles.length; i++) target[offset + i] = NIBBLE_HIGH | nibbles[i]!;
  }

  /**
   * Every valid stamp of `kind` in `audio`, in order. The search resumes after a stamp, never
   * inside it: a stamp's own digits can spell the magic, and with the silence behind it pass the
   * 4-bit checksum (about once in 300k frames), which read as another call's frame.
   */
  findAll(audio: Buffer, kind: StampKind): Stamp[] {
    const found: Stamp[] = [];
    const magic = MAGIC_BYTES[kind];
    let at = audio.indexOf(magic);
    while (at !== -1 && at + STAMP_BYTES <= audio.length) {
      const stamp = this.readAt(audio, at);
      if (stamp) found.push(stamp);
      at = audio.indexOf(magic, stamp ? at + STAMP_BYTES : at + 1);
    }
    return found;
  }

  private readAt(audio: Buffer, offset: number): Stamp | undefined {
    const nibbles: number[] = [];
    for (let i = MAGIC_NIBBLES; i < STAMP_BYTES; i++) {
      const byte = audio[offset + i]!;
      if ((byte & NIBBLE_HIGH) !== NIBBLE_HIGH) return undefined;
      nibbles.push(byte & 0x0f);
    }
    const sum = nibbles.pop()!;
    if (sum !== checksum(nibbles)) return undefined;
    const stream = fromNibbles(nibbles, 0, STREAM_NIBBLES);
    const seq = fromNibbles(nibbles, STREAM_NIBBLES, SEQ_NIBBLES);
    const us = fromNibbles(nibbles, STREAM_NIBBLES + SEQ_NIBBLES, TIME_NIBBLES);
    return { stream, seq, sentAt: this.epoch + us / US_PER_MS };
  }
}

function toNibbles(value: number, count: number): number[] {
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(Math.floor(value / 16 ** i) % 16);
  return out;
}

function fromNibbles(nibbles: readonly number[], start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) value = value * 16 + nibbles[i]!;
  return value;
}

function checksum(nibbles: readonly number[]): number {
  let sum = 0;
  for (const n of nibbles) sum = (sum * 3 + n) % 16;
  return sum;
}
