/** Twilio ended the stream (caller hung up, or the call was redirected). */
import type { TwilioStopMessage } from '@voice/protocols';
import type { MediaSession } from '../session/media-session.js';

export function onStop(session: MediaSession, message: TwilioStopMessage): void {
  if (!session.requireStream(message.streamSid)) return;
  session.endCall('twilio_stop');
}
