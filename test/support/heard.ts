/**
 * What the simulated caller heard, as spans of time: the longest stretch of
 * silence in a window (a hand-over the caller sat through), from the double's
 * heard segments (ms since START).
 */
import { BYTES_PER_MS } from '@voice/protocols';
import type { HeardSegment } from '@voice/testkit';

/** The longest span in [fromMs, toMs] with no audio playing (hold clips and the agent both count). */
export function longestSilence(segments: readonly HeardSegment[], fromMs: number, toMs: number): number {
  const spans = segments
    .map((s) => [s.startMs, s.startMs + s.bytes.length / BYTES_PER_MS] as const)
    .sort((a, b) => a[0] - b[0]);
  let longest = 0;
  let heardUpTo = fromMs;
  for (const [start, end] of spans) {
    if (end <= heardUpTo) continue;
    if (start >= toMs) break;
    longest = Math.max(longest, start - heardUpTo);
    heardUpTo = end;
  }
  return Math.max(longest, toMs - heardUpTo);
}

/** ms since the caller's START was sent, now (the scale heard segments use). */
export function msSinceStart(caller: { placedAt: number; startSentCallMs: number | undefined }): number {
  return performance.now() - caller.placedAt - (caller.startSentCallMs ?? 0);
}
