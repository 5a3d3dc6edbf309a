/**
 * Where a live call is now, read from the order of its timeline's checkpoints.
 */
import type { TimelineEntry } from '@voice/redis';

/**
 * ringing: the webhook answered, no media socket yet; connecting: the socket is
 * open, no START; starting: START, no greeting yet; talking: the caller has
 * heard the agent; on_hold: the link to the call's bridge died and the call is
 * being moved; fallback: the model is unreachable and the caller is being told;
 * ending: the stream stopped, the call is being finalized.
 */
export type LiveState = 'ringing' | 'connecting' | 'starting' | 'talking' | 'on_hold' | 'fallback' | 'ending';

const STATE_AFTER: Readonly<Record<string, LiveState>> = {
  'webhook.received': 'ringing',
  'ws.accepted': 'connecting',
  'stream.connected': 'connecting',
  'stream.started': 'starting',
  'greeting.first_audio': 'talking',
  'call.orphaned': 'on_hold',
  'realtime.fallback': 'fallback',
  'stream.stopped': 'ending',
  'call.ended': 'ending',
};

/** A call that moved (another bridge, or another gateway after a reconnect) is talking again once its audio flows. */
const RESUMED_BY: ReadonlySet<string> = new Set(['link.attached', 'call.resumed']);
const RESUMABLE: ReadonlySet<LiveState> = new Set(['on_hold', 'connecting', 'starting']);
const ENDING_EVENTS: ReadonlySet<string> = new Set(['stream.stopped', 'call.ended']);

export function liveStateOf(timeline: readonly TimelineEntry[]): LiveState {
  let state: LiveState = 'ringing';
  let greeted = false;
  for (const { event } of timeline) {
    if (state === 'ending') break;
    // Once the caller is being sent to the fallback, only the end changes that.
    if (state === 'fallback' && !ENDING_EVENTS.has(event)) continue;
    if (event === 'greeting.first_audio') greeted = true;
    if (greeted && RESUMED_BY.has(event) && RESUMABLE.has(state)) state = 'talking';
    else state = STATE_AFTER[event] ?? state;
  }
  return state;
}
