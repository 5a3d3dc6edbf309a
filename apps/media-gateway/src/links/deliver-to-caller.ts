/**
 * What a bridge sent for one call, turned into Twilio messages in order:
 * agent audio (with its marks), a mark, clear, a clip, hold audio on or off
 * (session/hold-loop.ts: model audio and a hangup end it too), and hangup (close the
 * socket normally so Twilio runs the TwiML after </Connect>; with a clip, only
 * once Twilio has played it). Nothing is delivered after the call ended or
 * while a hangup clip plays. Twilio's own messages are handled in handlers/.
 */
import type { BridgeRecord, ClipName } from '@voice/media-link';
import { preciseNow } from '@voice/redis';
import type { ActiveStream } from '../session/active-stream.js';
import type { MediaSession } from '../session/media-session.js';

/** The gateway's own mark; no `|`, so the bridge's mark parser could never take it for one of its items. */
export const HANGUP_MARK_PREFIX = 'gateway-hangup:';

/** What is played or done at the caller (a `rehome` is the call's bridge-call's business). */
export type CallerBoundRecord = Exclude<Extract<BridgeRecord, { ch: number }>, { t: 'rehome' }>;

export function deliverToCaller(session: MediaSession, stream: ActiveStream, record: CallerBoundRecord): void {
  if (session.phase !== 'streaming' || session.stream !== stream) return;
  switch (record.t) {
    case 'media':
      // The model speaks: the caller is no longer waiting (a hold clip still playing is cut).
      stream.hold.stop();
      if (record.markBefore) stream.sendMark(record.markBefore);
      if (!stream.sendAudio(record.payload, Buffer.byteLength(record.payload, 'base64'))) return;
      // Model audio only: clips go through `play`, so a hold clip never passes for the greeting.
      if (stream.firstAudioAt === undefined) firstAudio(session, stream, record.at);
      if (record.markAfter) stream.sendMark(record.markAfter);
      return;
    case 'mark':
      stream.sendMark(record.name);
      return;
    case 'clear':
      stream.clear();
      return;
    case 'play':
      stream.playClip(record.clip);
      return;
    case 'hold':
      if (record.on) stream.hold.start();
      else stream.hold.stop();
      return;
    case 'hangup':
      // Also the ended-on-purpose marker the webhook reads (AGENT_HUNG_UP_MARKER: a bare hangup).
      hangup(session, stream, `hangup:${record.reason}`, record.clip);
      return;
  }
}

/**
 * Closes the stream so Twilio runs the TwiML after </Connect>. With a clip, the caller
 * must hear it first: the clip, then a mark; the socket closes when Twilio echoes the
 * mark (closing at once would drop the queued clip), or at a deadline of the audio still
 * queued plus a grace period.
 */
export function hangup(session: MediaSession, stream: ActiveStream, stopReason: string, clip?: ClipName): void {
  // The fallback (or busy) clip starts now, not after the rest of a hold clip.
  stream.hold.stop();
  if (!clip || !stream.playClip(clip)) {
    session.endCall(stopReason);
    return;
  }
  const markName = `${HANGUP_MARK_PREFIX}${clip}`;
  if (!stream.sendMark(markName)) {
    session.endCall(stopReason);
    return;
  }
  const waitMs = stream.playout.remainingMs(Date.now()) + session.ctx.config.hangupClipGraceMs;
  session.closeAfterMark(stopReason, markName, waitMs);
}

function firstAudio(session: MediaSession, stream: ActiveStream, bridgeAt: number): void {
  const now = Date.now();
  stream.firstAudioAt = now;
  session.checkpoints.record('greeting.first_audio', {
    first_greeting_audio_ms: now - stream.startReceivedAt,
    // From the bridge reading the model's audio to the gateway sending it: the link hop,
    // plus any wait for START when the bridge had the greeting ready early.
    queued_ms: preciseNow() - bridgeAt,
  });
}
