/**
 * A timeline in the order things happened. The stream holds entries in the
 * order Redis received them, which is not quite the order they happened:
 * several processes write a call's timeline, each stamping `ts` before its
 * XADD travels, so a few entries arrive a millisecond or two "late". Sorted
 * by `ts` (stable, so equal stamps keep the stream's order) the waterfall's
 * offsets only grow and its gaps are never negative.
 */
import type { TimelineEntry } from '@voice/redis';

export function inTimeOrder(timeline: readonly TimelineEntry[]): TimelineEntry[] {
  return [...timeline].sort((a, b) => a.ts - b.ts);
}
