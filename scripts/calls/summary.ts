/**
 * A call as the JSON lines of every command show it (snake_case, ISO times),
 * from its calls row, and its failure with the failing step.
 */
import type { Call } from '@voice/db';
import type { TimelineEntry } from '@voice/redis';
import type { Failure } from './failure.js';
import { isoTime } from './output.js';

export function callFields(call: Call): Record<string, unknown> {
  const start = call.streamStartedAt ?? call.receivedAt;
  return {
    call_sid: call.callSid,
    direction: call.direction,
    from: call.from,
    to: call.to,
    business_id: call.businessId,
    status: call.status,
    received_at: isoTime(call.receivedAt),
    stream_started_at: isoTime(call.streamStartedAt),
    ended_at: isoTime(call.endedAt),
    duration_ms: start && call.endedAt ? call.endedAt.getTime() - start.getTime() : null,
    end_reason: call.endReason,
    silent_failure: call.silentFailure,
    gateway: call.gatewayInstance,
    bridge: call.bridgeInstance,
    answered_by: call.answeredBy,
    prompt_path: call.promptPath,
    openai_connect_ms: call.openaiConnectMs,
    first_greeting_audio_ms: call.firstGreetingAudioMs,
  };
}

export function stepFields(step: TimelineEntry | undefined, t0: number | undefined): Record<string, unknown> | null {
  if (!step) return null;
  return {
    event: step.event,
    app: step.app,
    instance: step.instance,
    at: isoTime(step.ts),
    offset_ms: t0 === undefined ? null : step.ts - t0,
    fields: step.fields,
  };
}

export function failureFields(
  failure: Failure | undefined,
  timeline: readonly TimelineEntry[],
): Record<string, unknown> | null {
  if (!failure) return null;
  return { kind: failure.kind, reason: failure.reason, failing_step: stepFields(failure.step, timeline[0]?.ts) };
}

/** `openai.failed (+1534 ms)`, or what is known when the timeline is gone. */
export function describeStep(failure: Failure, timeline: readonly TimelineEntry[]): string {
  if (!failure.step) return timeline.length === 0 ? 'unknown (no timeline)' : 'none on the timeline';
  return `${failure.step.event} (+${failure.step.ts - timeline[0]!.ts} ms)`;
}
