/**
 * The pre-rendered clips the bridge can ask for (`play`, `hangup` with a clip):
 * raw 8 kHz mu-law files, one per ClipName, loaded once at start and cut into
 * base64 media payloads so playing one costs nothing but the sends.
 * A missing or empty file fails start(): a gateway that would leave a caller in
 * silence must not take calls. Rendered by scripts/render-clips.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@voice/config';
import { BYTES_PER_MS } from '@voice/protocols';
import { CLIP_NAMES, type ClipName } from '@voice/media-link';

export const CLIP_FILE_EXTENSION = '.ulaw';
const RENDER_COMMAND = 'node --conditions=source --import tsx scripts/render-clips.ts';

export interface ClipChunk {
  /** Base64 mu-law, one media message. */
  payload: string;
  bytes: number;
}

export interface Clip {
  name: ClipName;
  /** In order, each `chunkMs` of audio (the last may be shorter). */
  chunks: readonly ClipChunk[];
  bytes: number;
  durationMs: number;
}

export type ClipLibrary = ReadonlyMap<ClipName, Clip>;

export async function loadClips(dir: string, chunkMs: number): Promise<ClipLibrary> {
  const clips = new Map<ClipName, Clip>();
  for (const name of CLIP_NAMES) {
    const file = join(dir, `${name}${CLIP_FILE_EXTENSION}`);
    let audio: Buffer;
    try {
      audio = await readFile(file);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new ConfigError(
        'CLIPS_DIR',
        `(${dir}): cannot read ${file} (${String(code ?? err)}); render the clips with \`${RENDER_COMMAND}\``,
      );
    }
    if (audio.length === 0) {
      throw new ConfigError('CLIPS_DIR', `(${dir}): ${file} is empty; render the clips with \`${RENDER_COMMAND}\``);
    }
    clips.set(name, toClip(name, audio, chunkMs));
  }
  return clips;
}

export function toClip(name: ClipName, audio: Buffer, chunkMs: number): Clip {
  const chunkBytes = chunkMs * BYTES_PER_MS;
  const chunks: ClipChunk[] = [];
  for (let offset = 0; offset < audio.length; offset += chunkBytes) {
    const part = audio.subarray(offset, offset + chunkBytes);
    chunks.push({ payload: part.toString('base64'), bytes: part.length });
  }
  return { name, chunks, bytes: audio.length, durationMs: audio.length / BYTES_PER_MS };
}
