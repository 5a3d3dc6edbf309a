/** `play`: a pre-rendered clip for the caller now, queued behind the audio already sent. */
import type { OutboundEntry } from '@voice/redis';
import type { ActiveStream } from '../session/active-stream.js';
import type { MediaSession } from '../session/media-session.js';
import { playClip } from '../session/play-clip.js';

export function onPlay(session: MediaSession, stream: ActiveStream, entry: Extract<OutboundEntry, { kind: 'play' }>): void {
  playClip(session, stream, entry.clip);
}
