/**
 * Admission under overload, in the same bench run: two bridges that take
 * BRIDGE_MAX_CALLS=N calls each, and 2N+extra callers at once. Each call is
 * classed from its timeline: greeted (greeting.first_audio) or busy
 * (realtime.fallback reason=NO_CAPACITY); how soon a busy caller heard the
 * busy clip comes from the caller double (first audible audio after START).
 */
import { Redis } from 'ioredis';
import { readTimeline } from '@voice/redis';
import { placeCalls } from './calls.js';
import { say } from './progress.js';
import { startSystemTarget, type TargetOptions } from './targets.js';
import { TrafficRecorder } from './traffic.js';
import type { StampCodec } from './stamp.js';

export interface AdmissionPlan {
  perBridge: number;
  extra: number;
  durationS: number;
  startDelayMs: number;
}

export interface AdmissionResult {
  plan: AdmissionPlan;
  calls: number;
  greeted: number;
  busy: number;
  /** Calls that were neither (should be 0), and calls whose caller heard nothing at all. */
  other: number;
  silent: number;
  /** ms from START to the first audio a busy caller heard. */
  busyHeardMs: number[];
  /** Most calls any one bridge held. */
  maxPerBridge: number;
}

const BRIDGES = 2;
/** Everyone at once: admission is about a burst, not a ramp. */
const BURST_ARRIVAL_RATE = 200;

export async function runAdmission(
  plan: AdmissionPlan,
  options: TargetOptions,
  codec: StampCodec,
): Promise<AdmissionResult> {
  const target = await startSystemTarget('warm', {
    ...options,
    bridges: BRIDGES,
    extraEnv: { ...options.extraEnv, BRIDGE_MAX_CALLS: String(plan.perBridge) },
  });
  const redis = new Redis(options.redisUrl);
  try {
    const calls = BRIDGES * plan.perBridge + plan.extra;
    say(`admission: ${calls} calls at once on ${BRIDGES} bridges of ${plan.perBridge}`);
    const placed = placeCalls(
      target,
      {
        calls,
        durationMs: plan.durationS * 1000,
        startDelayMs: plan.startDelayMs,
        arrivalRate: BURST_ARRIVAL_RATE,
        phase: 'spread',
      },
      new TrafficRecorder(codec),
    );
    const summaries = await placed.done;
    // Timelines are written a moment after the calls end.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const result: AdmissionResult = {
      plan,
      calls,
      greeted: 0,
      busy: 0,
      other: 0,
      silent: 0,
      busyHeardMs: [],
      maxPerBridge: 0,
    };
    const perBridge = new Map<string, number>();
    for (const summary of summaries) {
      const timeline = await readTimeline(redis, summary.callSid);
      const busy = timeline.some((e) => e.event === 'realtime.fallback' && e.fields.reason === 'NO_CAPACITY');
      const greeted = timeline.some((e) => e.event === 'greeting.first_audio');
      if (busy) {
        result.busy++;
        if (summary.firstAudioAtMs !== undefined) result.busyHeardMs.push(summary.firstAudioAtMs);
      } else if (greeted) result.greeted++;
      else result.other++;
      if (!(summary.heardAudibleMs > 0) || timeline.some((e) => e.event === 'call.silent_failure')) result.silent++;
      const owner = timeline.find((e) => e.event === 'bridge.claimed')?.instance;
      if (owner && greeted) perBridge.set(owner, (perBridge.get(owner) ?? 0) + 1);
    }
    result.maxPerBridge = Math.max(0, ...perBridge.values());
    return result;
  } finally {
    await target.stop();
    redis.disconnect();
  }
}
