/** The caller pressed a key: the bridge gets it in order with the audio; the timeline notes it. */
import type { TwilioDtmfMessage } from '@voice/protocols';
import type { MediaSession } from '../session/media-session.js';

export function onDtmf(session: MediaSession, message: TwilioDtmfMessage): void {
  const stream = session.requireStream(message.streamSid);
  if (!stream) return;
  const digit = message.dtmf.digit;
  stream.inbound.append({ kind: 'dtmf', digit });
  session.checkpoints.record('caller.dtmf', { digit });
}
