/**
 * Real speech for the doubles: espeak-ng compiled to WASM, resampled to 8 kHz
 * mu-law, the format Twilio and `audio/pcmu` carry. Synthesis costs 200-350 ms
 * of CPU per phrase, so each phrase is rendered once per process and cached,
 * and espeak-ng runs on a worker thread (speech-worker.ts): a render no longer
 * stalls the process hosting the doubles, whose caller frames and model audio
 * must keep their 20 ms cadence meanwhile (two CI failures came from that).
 */
import { SAMPLE_RATE_HZ, mulawEncode, parseWav, resample } from '@voice/protocols';
import { espeakWav } from './speech-worker.js';

export interface SpeechOptions {
  voice?: string;
  /** Words per minute (espeak-ng `-s`). */
  wordsPerMinute?: number;
}

const DEFAULT_VOICE = 'en-us';
const DEFAULT_WPM = 165;

const cache = new Map<string, Promise<Buffer>>();

/** Renders `text` as 8 kHz mono mu-law bytes. */
export function synthesizeMulaw(text: string, options: SpeechOptions = {}): Promise<Buffer> {
  const voice = options.voice ?? DEFAULT_VOICE;
  const wpm = options.wordsPerMinute ?? DEFAULT_WPM;
  const key = `${voice}|${wpm}|${text}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = render(text, voice, wpm);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function render(text: string, voice: string, wpm: number): Promise<Buffer> {
  const wav = parseWav(await espeakWav(['-v', voice, '-s', String(wpm)], text));
  return mulawEncode(resample(wav.samples, wav.sampleRate, SAMPLE_RATE_HZ));
}
