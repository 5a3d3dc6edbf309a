/**
 * One call's view of the timeline (STYLE 17): `tl.record('barge_in', {...})`
 * instead of passing the CallSid and logger to every helper.
 */
import type { Logger } from '@voice/logging';
import type { Timeline, TimelineEventName, TimelineFields } from '@voice/redis';

export interface CallTimeline {
  readonly callSid: string;
  record(event: TimelineEventName, fields?: TimelineFields, level?: 'info' | 'warn' | 'error'): Promise<void>;
}

export function callTimeline(timeline: Timeline, callSid: string, logger: Logger): CallTimeline {
  return {
    callSid,
    record: (event, fields = {}, level) => timeline.record(callSid, event, fields, { logger, level }),
  };
}
