/**
 * A caller audio frame: the hot path (50 per second per call). Checked, then
 * forwarded to the bridge with a fired, unawaited XADD; the auto-pipelined
 * connection keeps the frames in order.
 */
import type { TwilioMediaMessage } from '@voice/protocols';
import { isBase64 } from '../session/decode-frame.js';
import type { MediaSession } from '../session/media-session.js';

export function onMedia(session: MediaSession, message: TwilioMediaMessage, at: number): void {
  const stream = session.requireStream(message.streamSid);
  if (!stream) return;
  const { payload, chunk } = message.media;
  if (!isBase64(payload)) {
    session.invalid.report('bad_base64');
    return;
  }
  stream.inbound.append({ kind: 'media', payload, chunk: Number(chunk), at });
  stream.rx++;
  session.ctx.metrics.rxFrames.inc();
}
