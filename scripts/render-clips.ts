/**
 * Renders the media gateway's pre-rendered clips (raw 8 kHz mu-law, what Twilio
 * plays without transcoding) into apps/media-gateway/assets/clips/<name>.ulaw.
 * The gateway plays them when the model cannot speak (hold, fallback) or no
 * bridge has room (busy), so they
 * are committed files, not rendered at start. espeak-ng is deterministic:
 * running this again gives the same bytes.
 *
 *   node --conditions=source --import tsx scripts/render-clips.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BYTES_PER_MS, FRAME_BYTES, mulawRms } from '@voice/protocols';
import { CLIP_NAMES, type ClipName } from '@voice/media-link';
import { AUDIBLE_RMS_THRESHOLD } from '@voice/testkit';
// Not re-exported by @voice/testkit's index; the module is the one the doubles speak with.
import { synthesizeMulaw } from '@voice/testkit';
import { CLIP_FILE_EXTENSION } from '../apps/media-gateway/src/clips.js';

/** Every clip the contract names must have words: a new ClipName fails to compile here until it does. */
const CLIP_TEXTS: Record<ClipName, string> = {
  hold: "One moment please, I'm connecting you.",
  fallback: "Sorry, I'm having trouble right now.",
  // Short on purpose: the TwiML fallback speaks right after it.
  busy: 'Sorry, all of our lines are busy right now.',
};

/** espeak-ng pads with ~300 ms of silence; keep a short tail so the last word is not clipped. */
const KEPT_SILENCE_MS = { leading: 20, trailing: 100 } as const;

const OUT_DIR = fileURLToPath(new URL('../apps/media-gateway/assets/clips/', import.meta.url));

async function main(): Promise<void> {
  await mkdir(OUT_DIR, { recursive: true });
  for (const name of CLIP_NAMES) {
    const audio = trimSilence(await synthesizeMulaw(CLIP_TEXTS[name]));
    const file = join(OUT_DIR, `${name}${CLIP_FILE_EXTENSION}`);
    await writeFile(file, audio);
    process.stdout.write(`${file}: ${audio.length} bytes, ${audio.length / BYTES_PER_MS} ms\n`);
  }
}

/** Cuts leading and trailing silence (whole 20 ms frames below the audible threshold), keeping a little of each. */
function trimSilence(audio: Buffer): Buffer {
  const frames = Math.ceil(audio.length / FRAME_BYTES);
  const audible = (i: number) =>
    mulawRms(audio.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES)) > AUDIBLE_RMS_THRESHOLD;
  let first = 0;
  while (first < frames && !audible(first)) first++;
  let last = frames - 1;
  while (last > first && !audible(last)) last--;
  if (first >= frames) throw new Error('the synthesized clip is silent');
  const start = Math.max(0, first * FRAME_BYTES - KEPT_SILENCE_MS.leading * BYTES_PER_MS);
  const end = Math.min(audio.length, (last + 1) * FRAME_BYTES + KEPT_SILENCE_MS.trailing * BYTES_PER_MS);
  return audio.subarray(start, end);
}

main().catch((err: unknown) => {
  process.stderr.write(`render-clips: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
