/**
 * Twilio echoes a mark when the audio queued before it has played: the bridge
 * times barge-in by it. The gateway's own hangup mark ends the call instead.
 */
import type { TwilioMarkMessage } from '@voice/protocols';
import type { MediaSession } from '../session/media-session.js';

export function onMark(session: MediaSession, message: TwilioMarkMessage): void {
  const stream = session.requireStream(message.streamSid);
  if (!stream) return;
  if (session.onHangupMarkEchoed(message.mark.name)) return;
  stream.forwardMark(message.mark.name);
}
