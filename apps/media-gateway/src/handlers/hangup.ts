/**
 * `hangup`: close the socket normally so Twilio runs the TwiML after </Connect>.
 * With a clip, the caller must hear it first: the clip, then a mark; the socket
 * closes when Twilio echoes the mark (closing at once would drop the queued
 * clip), or at a deadline of the audio still queued plus a grace period.
 */
import type { OutboundEntry } from '@voice/redis';
import type { ActiveStream } from '../session/active-stream.js';
import type { MediaSession } from '../session/media-session.js';
import { playClip } from '../session/play-clip.js';

/** The gateway's own mark; no `|`, so the bridge's mark parser could never take it for one of its items. */
export const HANGUP_MARK_PREFIX = 'gateway-hangup:';

export function onHangup(
  session: MediaSession,
  stream: ActiveStream,
  entry: Extract<OutboundEntry, { kind: 'hangup' }>,
): void {
  const stopReason = `hangup:${entry.reason}`;
  if (!entry.clip || !playClip(session, stream, entry.clip)) {
    session.endCall(stopReason);
    return;
  }
  const markName = `${HANGUP_MARK_PREFIX}${entry.clip}`;
  if (!session.send({ event: 'mark', streamSid: stream.streamSid, mark: { name: markName } })) {
    session.endCall(stopReason);
    return;
  }
  session.ctx.metrics.txMark.inc();
  const waitMs = stream.playout.remainingMs(Date.now()) + session.ctx.config.hangupClipGraceMs;
  session.closeAfterMark(stopReason, markName, waitMs);
}
