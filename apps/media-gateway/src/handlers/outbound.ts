/**
 * Entries the bridge wrote on `call:{CA}:out`, turned into Twilio messages in
 * stream order: media, mark, clear, play (a clip) and hangup (close the socket
 * normally so Twilio runs the TwiML after </Connect>). A malformed entry is
 * logged and skipped. After a hangup nothing more is delivered.
 */
import { errorFields } from '@voice/logging';
import { decodeOutbound, preciseNow } from '@voice/redis';
import type { OutboundEntry, RawStreamEntry } from '@voice/redis';
import type { ActiveStream } from '../session/active-stream.js';
import type { MediaSession } from '../session/media-session.js';
import { sendAudio } from '../session/send-audio.js';
import { onHangup } from './hangup.js';
import { onPlay } from './play.js';

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
      if (entry.markBefore) sendMark(session, streamSid, entry.markBefore);
      if (!sendAudio(session, stream, entry.payload, Buffer.byteLength(entry.payload, 'base64'))) return;
      // Model audio only: clips go through `play`, so a hold clip never passes for the greeting.
      if (stream.firstAudioAt === undefined) firstAudio(session, stream, entry.at);
      if (entry.markAfter) sendMark(session, streamSid, entry.markAfter);
      return;
    case 'mark':
      sendMark(session, streamSid, entry.name);
      return;
    case 'clear':
      if (!session.send({ event: 'clear', streamSid })) return;
      metrics.txClear.inc();
      stream.playout.cleared(Date.now());
      return;
    case 'play':
      onPlay(session, stream, entry);
      return;
    case 'hangup':
      onHangup(session, stream, entry);
      return;
  }
}

function sendMark(session: MediaSession, streamSid: string, name: string): void {
  if (session.send({ event: 'mark', streamSid, mark: { name } })) session.ctx.metrics.txMark.inc();
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
