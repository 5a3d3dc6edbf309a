/**
 * A caller audio frame: the hot path (50 per second per call). Checked, then
 * forwarded to the bridge over the call's media link as the same base64.
 */
import type { TwilioMediaMessage } from '@voice/protocols';
import { isBase64 } from '../session/decode-frame.js';
import type { MediaSession } from '../session/media-session.js';

export function onMedia(session: MediaSession, message: TwilioMediaMessage): void {
  const stream = session.requireStream(message.streamSid);
  if (!stream) return;
  const { payload } = message.media;
  if (!isBase64(payload)) {
    session.invalid.report('bad_base64');
    return;
  }
  stream.forwardMedia(payload);
}
