/**
 * The stage durations of one call, from its timeline: where the time between
 * Twilio's webhook and the caller hearing the agent went, and how long the
 * call lasted. A stage that began but never finished says what stopped it.
 */
import type { TimelineEntry, TimelineEventName } from '@voice/redis';

export type StageName =
  'webhook_to_start' | 'start_to_claimed' | 'connect' | 'configure' | 'first_greeting_audio' | 'call_duration';

export interface Stage {
  stage: StageName;
  label: string;
  /** Null when the stage did not happen (or has not yet). */
  ms: number | null;
  from: TimelineEventName;
  to: TimelineEventName;
  /** The stage began and something stopped it. */
  failed: boolean;
  note: string | null;
}

const first = (timeline: readonly TimelineEntry[], event: TimelineEventName) => timeline.find((e) => e.event === event);
const numberField = (entry: TimelineEntry | undefined, field: string): number | undefined => {
  const value = entry?.fields[field];
  return value === undefined || value === '' || Number.isNaN(Number(value)) ? undefined : Number(value);
};

interface Span {
  stage: StageName;
  label: string;
  from: TimelineEventName;
  to: TimelineEventName;
  /** The duration the writer measured itself, when it did (more precise than two clocks). */
  measured?: (to: TimelineEntry | undefined) => number | undefined;
  /** Events that end the stage unsuccessfully. */
  stoppedBy: TimelineEventName[];
}

const SPANS: readonly Span[] = [
  {
    stage: 'webhook_to_start',
    label: 'webhook -> START',
    from: 'webhook.received',
    to: 'stream.started',
    stoppedBy: ['stream.never_started', 'stream.no_start', 'stream.rejected'],
  },
  {
    stage: 'start_to_claimed',
    label: 'START -> claimed',
    from: 'stream.started',
    to: 'bridge.claimed',
    stoppedBy: ['realtime.fallback'],
  },
  {
    stage: 'connect',
    label: 'connect (model)',
    from: 'openai.connecting',
    to: 'openai.connected',
    stoppedBy: ['openai.failed'],
  },
  {
    stage: 'configure',
    label: 'configure',
    from: 'openai.connected',
    to: 'session.configured',
    stoppedBy: ['openai.closed', 'realtime.fallback'],
  },
  {
    stage: 'first_greeting_audio',
    label: 'first greeting audio',
    from: 'stream.started',
    to: 'greeting.first_audio',
    measured: (to) => numberField(to, 'first_greeting_audio_ms'),
    stoppedBy: ['realtime.fallback', 'call.silent_failure'],
  },
  {
    stage: 'call_duration',
    label: 'call duration',
    from: 'stream.started',
    to: 'call.ended',
    measured: (to) => numberField(to, 'duration_ms'),
    stoppedBy: [],
  },
];

export function stagesOf(timeline: readonly TimelineEntry[]): Stage[] {
  return SPANS.map((span) => {
    const from = first(timeline, span.from);
    const to = first(timeline, span.to);
    const base = { stage: span.stage, label: span.label, from: span.from, to: span.to };
    if (from && to) {
      const ms = span.measured?.(to) ?? to.ts - from.ts;
      const note = span.stage === 'start_to_claimed' && ms < 0 ? 'claimed before START (warm session)' : null;
      return { ...base, ms, failed: false, note };
    }
    const stopper = from
      ? span.stoppedBy.map((e) => first(timeline, e)).find((e) => e !== undefined && e.ts >= from.ts)
      : undefined;
    if (from && stopper) {
      const reason = stopper.fields.reason ? ` reason=${stopper.fields.reason}` : '';
      return {
        ...base,
        ms: null,
        failed: true,
        note: `stopped by ${stopper.event}${reason} after ${stopper.ts - from.ts} ms`,
      };
    }
    const note = from ? `no ${span.to} (yet)` : `no ${span.from}`;
    return { ...base, ms: null, failed: false, note };
  });
}
