/**
 * The caller started talking over the agent: drop what Twilio still has queued
 * (clear), and truncate the model's item at what the caller actually heard so
 * the model does not believe it said the part nobody heard.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { BridgeMetrics } from '../metrics.js';
import type { CallTimeline } from './call-timeline.js';
import type { GatewayChannel } from './gateway-channel.js';
import type { PlaybackTracker } from './playback-tracker.js';

export interface BargeInDeps {
  tl: CallTimeline;
  channel: GatewayChannel;
  playback: PlaybackTracker;
  metrics: BridgeMetrics;
  send(event: RealtimeClientEvent): void;
}

/** Returns true when the agent was interrupted (false: nothing was playing). */
export function handleBargeIn(deps: BargeInDeps): boolean {
  const decision = deps.playback.bargeIn();
  if (!decision) return false;
  deps.channel.send({ t: 'clear' });
  deps.send({
    type: 'conversation.item.truncate',
    item_id: decision.itemId,
    content_index: 0,
    audio_end_ms: decision.audioEndMs,
  });
  deps.metrics.bargeIns.inc();
  void deps.tl.record('barge_in', {
    item_id: decision.itemId,
    audio_end_ms: decision.audioEndMs,
    sent_ms: decision.sentMs,
    played_ms: decision.playedMs,
  });
  return true;
}
