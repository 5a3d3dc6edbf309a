/**
 * Entries the bridge wrote on `call:{CA}:out`, turned into Twilio messages in
 * stream order: media, mark, clear, and hangup (close the socket normally so
 * Twilio runs the TwiML after </Connect>). A malformed entry is logged and skipped.
 */
import { errorFields } from '@voice/logging';
import { decodeOutbound, preciseNow } from '@voice/redis';
import type { OutboundEntry, RawStreamEntry } from '@voice/redis';
import type { ActiveStream } from '../session/active-stream.js';
import type { MediaSession } from '../session/media-session.js';

export function onOutboundEntries(session: MediaSession, stream: ActiveStream, entries: RawStreamEntry[]): void {
  for (const [id, fields] of entries) {
    // The call may end part-way through a batch (hangup, socket closed).
    if (session.phase !== 'streaming' || session.stream !== stream) return;
    let entry: OutboundEntry;
    try {
      entry = decodeOutbound(id, fields);
    } catch (err) {
      stream.log.warn('invalid outbound entry skipped', { key: stream.outKey, id, ...errorFields(err) });
      continue;
    }
    deliver(session, stream, entry);
  }
}

function deliver(session: MediaSession, stream: ActiveStream, entry: OutboundEntry): void {
  const { metrics } = session.ctx;
  const { streamSid } = stream;
  switch (entry.kind) {
    case 'media':
      if (!session.send({ event: 'media', streamSid, media: { payload: entry.payload } })) return;
      stream.tx++;
      stream.txBytes += Buffer.byteLength(entry.payload, 'base64');
      metrics.txMedia.inc();
      if (stream.firstAudioAt === undefined) firstAudio(session, stream, entry.at);
      return;
    case 'mark':
      if (session.send({ event: 'mark', streamSid, mark: { name: entry.name } })) metrics.txMark.inc();
      return;
    case 'clear':
      if (session.send({ event: 'clear', streamSid })) metrics.txClear.inc();
      return;
    case 'hangup':
      session.endCall(`hangup:${entry.reason}`);
      return;
  }
}

function firstAudio(session: MediaSession, stream: ActiveStream, bridgeAt: number): void {
  const now = Date.now();
  stream.firstAudioAt = now;
  session.checkpoints.record('greeting.first_audio', {
    first_greeting_audio_ms: now - stream.startReceivedAt,
    // From the bridge reading the model's audio to the gateway sending it: the Redis hop,
    // plus any wait for START when the bridge had the greeting ready early.
    queued_ms: preciseNow() - bridgeAt,
  });
}
