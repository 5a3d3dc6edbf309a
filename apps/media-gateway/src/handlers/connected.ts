/** Twilio's first message: the socket speaks the media-stream protocol. A checkpoint, nothing more. */
import type { MediaSession } from '../session/media-session.js';

export function onConnected(session: MediaSession, message: { protocol: string; version: string }): void {
  // Twilio sends it once, first; a repeat carries no information.
  if (session.phase !== 'awaiting_start') return;
  session.checkpoints.record('stream.connected', { protocol: message.protocol, version: message.version });
}
