/** One media message to the caller, counted the same whatever its source (model audio or a clip). */
import type { ActiveStream } from './active-stream.js';
import type { MediaSession } from './media-session.js';

export function sendAudio(session: MediaSession, stream: ActiveStream, payload: string, bytes: number): boolean {
  if (!session.send({ event: 'media', streamSid: stream.streamSid, media: { payload } })) return false;
  stream.tx++;
  stream.txBytes += bytes;
  stream.playout.queued(bytes, Date.now());
  session.ctx.metrics.txMedia.inc();
  return true;
}
