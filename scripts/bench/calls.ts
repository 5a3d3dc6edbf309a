/**
 * Places one scenario's calls, open loop: arrivals at a fixed rate, every
 * caller on a strict 20 ms FrameClock (its own, or one shared by all), each frame stamped as it is sent and
 * each received payload read for the model's stamps. Callers say nothing (a
 * silent line plus stamps never trips the model's VAD, so no barge-in clears
 * audio); each hangs up `durationMs` after START.
 */
import { DEMO_PHONE_NUMBER } from '@voice/db';
import { FrameClock, placeCall, type CallSummary, type FrameClockStats, type TwilioCallerDouble } from '@voice/testkit';
import type { Target } from './targets.js';
import { BENCH_AUTH_TOKEN } from './targets.js';
import type { TrafficRecorder } from './traffic.js';

const CALLER_NUMBER = '+15005550001';

export interface PlacementPlan {
  calls: number;
  durationMs: number;
  startDelayMs: number;
  arrivalRate: number;
  /**
   * spread: a 20 ms clock per call, its phase set by its own START, as real streams arrive;
   * aligned: one clock for every call, so all frames of a tick leave together (a worst-case burst).
   */
  phase: 'spread' | 'aligned';
}

export interface PlacedCalls {
  callers: TwilioCallerDouble[];
  /** Open-loop health of every clock together: ticks, late ticks, worst lag. */
  clockStats(): FrameClockStats;
  /** Resolves once every call has been placed. */
  placed: Promise<void>;
  /** Resolves with every call's summary once all have ended. */
  done: Promise<CallSummary[]>;
}

export function placeCalls(target: Target, plan: PlacementPlan, traffic: TrafficRecorder): PlacedCalls {
  const shared = plan.phase === 'aligned' ? new FrameClock() : undefined;
  const clocks: FrameClock[] = shared ? [shared] : [];
  const callers: TwilioCallerDouble[] = [];
  const summaries: Array<Promise<CallSummary>> = [];
  const intervalMs = 1000 / plan.arrivalRate;
  const t0 = performance.now();

  const placeOne = (index: number) => {
    traffic.addCall(index);
    let caller: TwilioCallerDouble | undefined = undefined;
    const clock = shared ?? new FrameClock();
    if (!shared) clocks.push(clock);
    const noteStart = () => {
      const at = caller?.session?.startSentAt;
      if (at !== undefined) traffic.setStartSentAt(index, at);
    };
    caller = placeCall({
      webhookUrl: target.webhookUrl,
      publicWebhookUrl: target.publicWebhookUrl,
      authToken: BENCH_AUTH_TOKEN,
      to: DEMO_PHONE_NUMBER,
      from: CALLER_NUMBER,
      resolveStreamUrl: target.resolveStreamUrl(index),
      script: [],
      startDelayMs: plan.startDelayMs,
      hangupAfterMs: plan.startDelayMs + plan.durationMs,
      clock,
      recordSentPayloads: false,
      onFrame: (frame) => {
        noteStart();
        return traffic.stampFrame(index, frame);
      },
      onMedia: (audio, at) => {
        noteStart();
        traffic.onCallerMedia(index, audio, at);
      },
    });
    callers.push(caller);
    summaries.push(caller.done);
  };

  const placed = (async () => {
    for (let i = 0; i < plan.calls; i++) {
      const wait = t0 + i * intervalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      placeOne(i);
    }
  })();
  const done = placed.then(() => Promise.all(summaries));
  const clockStats = (): FrameClockStats =>
    clocks
      .map((c) => c.stats())
      .reduce(
        (a, b) => ({
          ticks: a.ticks + b.ticks,
          lateTicks: a.lateTicks + b.lateTicks,
          maxLagMs: Math.max(a.maxLagMs, b.maxLagMs),
        }),
        {
          ticks: 0,
          lateTicks: 0,
          maxLagMs: 0,
        },
      );
  return { callers, clockStats, placed, done };
}

/** Calls whose stream is up (START sent, not yet closed). */
export function liveCount(callers: readonly TwilioCallerDouble[]): number {
  return callers.filter((c) => c.state === 'streaming').length;
}
