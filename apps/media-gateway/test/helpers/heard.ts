/**
 * What Twilio was sent, read the way a caller would hear it (the audio, in
 * order) or the way Twilio tracks playback (the marks), and the clips the
 * gateway plays, as files.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClipName } from '@voice/media-link';
import type { TwilioOutboundMessage } from '@voice/protocols';
import { CLIP_FILE_EXTENSION } from '../../src/clips.js';
import { DEFAULTS } from '../../src/config.js';

export type MediaMessage = Extract<TwilioOutboundMessage, { event: 'media' }>;

export const mediaOf = (messages: TwilioOutboundMessage[]): MediaMessage[] =>
  messages.filter((m): m is MediaMessage => m.event === 'media');

/** The audio bytes of every media message, concatenated: what the caller hears. */
export const audioOf = (messages: TwilioOutboundMessage[]): Buffer =>
  Buffer.concat(mediaOf(messages).map((m) => Buffer.from(m.media.payload, 'base64')));

export const marksOf = (messages: TwilioOutboundMessage[]): string[] =>
  messages.flatMap((m) => (m.event === 'mark' ? [m.mark.name] : []));

export const clipFile = (dir: string, name: ClipName): string => join(dir, `${name}${CLIP_FILE_EXTENSION}`);

/** A clip as shipped with the gateway (its default CLIPS_DIR). */
export function shippedClip(name: ClipName): Promise<Buffer> {
  return readFile(clipFile(DEFAULTS.clipsDir, name));
}
