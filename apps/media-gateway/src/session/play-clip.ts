/**
 * Sends a pre-rendered clip to the caller as ordinary media messages, so Twilio
 * queues it behind whatever audio is already going out, and notes it on the
 * timeline. It does not count as the first model audio (see ActiveStream).
 */
import type { ClipName } from '@voice/redis';
import type { ActiveStream } from './active-stream.js';
import type { MediaSession } from './media-session.js';
import { sendAudio } from './send-audio.js';

/** False when the socket was no longer open (nothing, or not all of it, went out). */
export function playClip(session: MediaSession, stream: ActiveStream, name: ClipName): boolean {
  const clip = session.ctx.clips.get(name);
  if (!clip) {
    // loadClips() refuses to start without every ClipName, so this is a programming error.
    stream.log.error('clip not loaded', { clip: name });
    return false;
  }
  for (const chunk of clip.chunks) {
    if (!sendAudio(session, stream, chunk.payload, chunk.bytes)) return false;
  }
  session.ctx.metrics.clipsPlayed.labels({ clip: name }).inc();
  session.checkpoints.record('clip.played', { clip: name, audio_ms: clip.durationMs });
  return true;
}
