/**
 * Did a call fail, how, why, and at which step: read from its calls row and
 * its timeline together (either may be missing: the row when the webhook's
 * write never landed, the timeline after 7 days).
 */
import { FAULT_END_REASONS, type Call } from '@voice/db';
import type { TimelineEntry, TimelineEventName } from '@voice/redis';

/**
 * Events that say something went wrong. The first of them on a failed call's
 * timeline is its failing step; on a call that still went well (a bridge lost
 * and the call moved, a warm session that failed before a cold one worked)
 * they are warnings.
 */
export const TROUBLE_EVENTS: ReadonlySet<string> = new Set<TimelineEventName>([
  'webhook.unknown_number',
  'stream.no_start',
  'stream.never_started',
  'stream.rejected',
  'openai.failed',
  'openai.closed',
  'realtime.fallback',
  'call.orphaned',
  'link.detached',
  'call.silent_failure',
]);

/** How a call failed: fell back, failed silently, never started, was cut by a fault, or failed otherwise. */
export type FailureKind = 'fallback' | 'silent_failure' | 'never_started' | 'fault' | 'failed';

export interface Failure {
  kind: FailureKind;
  /** The fallback reason, silent-failure reason or end reason. */
  reason: string;
  /** The first trouble event on the timeline (undefined when the timeline is gone or has none). */
  step: TimelineEntry | undefined;
}

const NEVER_STARTED_END_REASONS: readonly string[] = ['no_stream', 'no_start'];
const FALLBACK_PREFIX = 'fallback:';

const find = (timeline: readonly TimelineEntry[], event: TimelineEventName) => timeline.find((e) => e.event === event);

/** The call's end reason: the row's, else the timeline's. */
export function endReasonOf(call: Call | null, timeline: readonly TimelineEntry[]): string | null {
  return call?.endReason ?? find(timeline, 'call.ended')?.fields.end_reason ?? null;
}

/** Undefined when the call did not fail (or has not ended badly yet). */
export function failureOf(call: Call | null, timeline: readonly TimelineEntry[]): Failure | undefined {
  const endReason = endReasonOf(call, timeline) ?? '';
  const silent = find(timeline, 'call.silent_failure');
  const fallback = find(timeline, 'realtime.fallback');
  const noStart = find(timeline, 'stream.never_started') ?? find(timeline, 'stream.no_start');
  const step = timeline.find((e) => TROUBLE_EVENTS.has(e.event));

  if (NEVER_STARTED_END_REASONS.includes(endReason) || noStart) {
    // Whatever else went wrong meanwhile (a warm session's model connect), the call failed because no stream came.
    return { kind: 'never_started', reason: endReason || (noStart?.event ?? 'never_started'), step: noStart ?? step };
  }
  if (call?.silentFailure || silent)
    return { kind: 'silent_failure', reason: silent?.fields.reason ?? 'silent_failure', step };
  if (endReason.startsWith(FALLBACK_PREFIX) || fallback) {
    return { kind: 'fallback', reason: fallback?.fields.reason ?? endReason.slice(FALLBACK_PREFIX.length), step };
  }
  if (FAULT_END_REASONS.includes(endReason)) return { kind: 'fault', reason: endReason, step };
  if (call?.status === 'failed')
    return { kind: 'failed', reason: endReason || 'failed', step: step ?? find(timeline, 'call.ended') };
  return undefined;
}
