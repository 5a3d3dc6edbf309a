/**
 * Real speech for the doubles: espeak-ng compiled to WASM, resampled to 8 kHz
 * mu-law, the format Twilio and `audio/pcmu` carry. Synthesis costs ~200 ms, so
 * each phrase is rendered once per process and cached.
 */
import ESpeakNg from 'espeak-ng';
import { SAMPLE_RATE_HZ, mulawEncode, parseWav, resample } from '@voice/protocols';

export interface SpeechOptions {
  voice?: string;
  /** Words per minute (espeak-ng `-s`). */
  wordsPerMinute?: number;
}

const DEFAULT_VOICE = 'en-us';
const DEFAULT_WPM = 165;
const OUTPUT_FILE = 'speech.wav';

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
  const espeak = await ESpeakNg({
    arguments: ['-v', voice, '-s', String(wpm), '-w', OUTPUT_FILE, text],
    print: () => undefined,
    printErr: () => undefined,
  });
  const wav = parseWav(espeak.FS.readFile(OUTPUT_FILE) as Uint8Array);
  return mulawEncode(resample(wav.samples, wav.sampleRate, SAMPLE_RATE_HZ));
}
