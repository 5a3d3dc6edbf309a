/**
 * The caller started talking over the agent: drop what Twilio still has queued
 * (clear), and truncate the model's item at what the caller actually heard so
 * the model does not believe it said the part nobody heard.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { BridgeMetrics } from '../metrics.js';
import type { OutboundWriter } from './outbound-writer.js';
import type { PlaybackTracker } from './playback-tracker.js';

export interface BargeInDeps {
  callSid: string;
  out: OutboundWriter;
  playback: PlaybackTracker;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  send(event: RealtimeClientEvent): void;
}

/** Returns true when the agent was interrupted (false: nothing was playing). */
export function handleBargeIn(deps: BargeInDeps): boolean {
  const decision = deps.playback.bargeIn();
  if (!decision) return false;
  deps.out.write({ kind: 'clear' });
  deps.send({ type: 'conversation.item.truncate', item_id: decision.itemId, content_index: 0, audio_end_ms: decision.audioEndMs });
  deps.metrics.bargeIns.inc();
  void deps.timeline.record(
    deps.callSid,
    'barge_in',
    { item_id: decision.itemId, audio_end_ms: decision.audioEndMs, sent_ms: decision.sentMs, played_ms: decision.playedMs },
    { logger: deps.logger },
  );
  return true;
}
