/** Minimal RIFF/WAVE reading and writing for 16-bit PCM and 8-bit mu-law mono files. */

export interface PcmAudio {
  sampleRate: number;
  samples: Int16Array;
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

/** Parses a mono 16-bit PCM WAV (what espeak-ng writes). */
export function parseWav(buf: Uint8Array): PcmAudio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new WavFormatError('not a RIFF/WAVE file');
  let offset = 12;
  let sampleRate = 0;
  let bits = 0;
  let channels = 0;
  while (offset + 8 <= buf.length) {
    const id = tag(offset);
    // espeak-ng writing to a file it cannot seek leaves sizes as 0x7fffffff; clamp to the buffer.
    const size = Math.min(view.getUint32(offset + 4, true), buf.length - offset - 8);
    if (id === 'fmt ') {
      channels = view.getUint16(offset + 10, true);
      sampleRate = view.getUint32(offset + 12, true);
      bits = view.getUint16(offset + 22, true);
    } else if (id === 'data') {
      if (bits !== 16 || channels !== 1) throw new WavFormatError(`unsupported WAV: ${bits} bit, ${channels} channels`);
      const samples = new Int16Array(Math.floor(size / 2));
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(offset + 8 + i * 2, true);
      return { sampleRate, samples };
    }
    offset += 8 + size + (size % 2);
  }
  throw new WavFormatError('no data chunk');
}

/** Writes 16-bit PCM mono as a WAV file body. */
export function encodeWavPcm16(audio: PcmAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, 44 + i * 2);
  return out;
}

/** Linear-interpolation resampler; good enough for speech going down to 8 kHz telephony. */
export function resample(samples: Int16Array, fromHz: number, toHz: number): Int16Array {
  if (fromHz === toHz) return samples;
  const outLength = Math.floor((samples.length * toHz) / fromHz);
  const out = new Int16Array(outLength);
  const step = fromHz / toHz;
  // A crude box low-pass before decimation keeps aliasing of sibilants down.
  const window = Math.max(1, Math.floor(step));
  for (let i = 0; i < outLength; i++) {
    const pos = i * step;
    const base = Math.floor(pos);
    let acc = 0;
    let n = 0;
    for (let k = 0; k < window && base + k < samples.length; k++) {
      acc += samples[base + k]!;
      n++;
    }
    out[i] = n > 0 ? Math.round(acc / n) : 0;
  }
  return out;
}
