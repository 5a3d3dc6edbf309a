/**
 * One scenario: N calls on one set-up (system warm, system cold, or direct).
 * Places the calls, shows progress, samples CPU/RSS and Redis memory while they
 * run, waits for the system to finalize them, then measures what they cost and
 * what they left behind.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CallSummary, FrameClockStats } from '@voice/testkit';
import { liveCount, placeCalls } from './calls.js';
import type { PathName } from './flags.js';
import { say } from './progress.js';
import type { RedisProbe } from './redis-stats.js';
import { ResourceSampler, type ProcessUsage } from './resources.js';
import { measureRedis, type RedisCost, RedisMemorySampler } from './scenario-redis.js';
import type { Target } from './targets.js';
import { TrafficRecorder, type TrafficResult } from './traffic.js';
import type { StampCodec } from './stamp.js';

const SAMPLE_EVERY_MS = 500;
const PROGRESS_EVERY_MS = 3000;
const NS_PER_MS = 1e6;
/** The event-loop delay histogram samples with a timer this coarse; its values include it. */
const LOOP_RESOLUTION_MS = 10;
const loopLagMs = (ns: number) => Math.max(0, ns / NS_PER_MS - LOOP_RESOLUTION_MS);

export interface ScenarioSpec {
  path: PathName;
  calls: number;
  durationS: number;
  startDelayMs: number;
  arrivalRate: number;
  phase: 'spread' | 'aligned';
}

export interface ScenarioRun {
  spec: ScenarioSpec;
  traffic: TrafficResult;
  /** Per call index: the system's own `call.metrics` fields (system set-ups only). */
  metrics: Array<Record<string, string> | undefined>;
  summaries: CallSummary[];
  usage: ProcessUsage[];
  redis: RedisCost | undefined;
  clock: FrameClockStats;
  /** Event-loop delay of the bench process (both doubles run in it): p99 and max, ms. */
  benchLoopDelayMs: { p99: number; max: number };
  wallSeconds: number;
  /** Busy CPU seconds of the whole host over the scenario (ours and anything else running). */
  hostBusySeconds: number;
  /** CPU seconds the hypervisor took from this VM over the scenario. */
  hostStealSeconds: number;
  /** Length of the window with every call live (undefined: the calls never all overlapped). */
  steadySeconds: number | undefined;
}

export interface ScenarioContext {
  target: Target;
  codec: StampCodec;
  probe: RedisProbe;
  /** Routes the Realtime double's tap to this scenario's recorder. */
  setTrafficRecorder(recorder: TrafficRecorder | undefined): void;
}

export async function runScenario(spec: ScenarioSpec, ctx: ScenarioContext): Promise<ScenarioRun> {
  const { target } = ctx;
  const label = `${spec.path} ${spec.calls} call${spec.calls === 1 ? '' : 's'}`;
  const traffic = new TrafficRecorder(ctx.codec);
  ctx.setTrafficRecorder(traffic);
  const resources = new ResourceSampler([
    ...target.measured(),
    { label: 'bench (doubles)', role: 'bench', pid: process.pid },
  ]);
  const memory = target.role === 'system' ? await RedisMemorySampler.begin(ctx.probe) : undefined;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const startedAt = performance.now();
  const durationMs = spec.durationS * 1000;
  const placed = placeCalls(
    target,
    {
      calls: spec.calls,
      durationMs,
      startDelayMs: spec.startDelayMs,
      arrivalRate: spec.arrivalRate,
      phase: spec.phase,
    },
    traffic,
  );
  say(
    `${label}: placing calls (${spec.arrivalRate}/s, START ${spec.startDelayMs} ms after the socket opens, ${spec.durationS} s each)`,
  );

  let sampling = Promise.resolve();
  const sampler = setInterval(() => {
    const live = liveCount(placed.callers);
    resources.sample(live, spec.calls);
    if (memory) sampling = sampling.then(() => memory.sample(live, placed.callers, spec.calls));
  }, SAMPLE_EVERY_MS);
  const progress = setInterval(() => {
    const p = traffic.progress();
    say(
      `${label}: ${liveCount(placed.callers)} live, greetings ${p.greetings}/${spec.calls}, ` +
        `frames sent ${p.framesSent}, at model ${p.framesArrived}, model deltas heard ${p.deltasReceived}, bench loop lag p99 ${loopLagMs(loop.percentile(99)).toFixed(1)} ms`,
    );
  }, PROGRESS_EVERY_MS);

  let summaries: CallSummary[];
  try {
    summaries = await placed.done;
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
    loop.disable();
    await sampling;
  }
  // Closes the steady window if no sample caught the first hangup (short scenarios).
  resources.sample(0, spec.calls);
  await memory?.sample(0, placed.callers, spec.calls);
  say(
    `${label}: all calls ended after ${((performance.now() - startedAt) / 1000).toFixed(1)} s; measuring what they cost`,
  );
  const callSids = placed.callers.map((c) => c.callSid);
  const redis = memory ? await measureRedis(ctx.probe, memory, callSids) : undefined;
  const usage = resources.finish();
  const hostBusySeconds = resources.hostBusy();
  const hostStealSeconds = resources.hostSteal();
  ctx.setTrafficRecorder(undefined);
  return {
    spec,
    traffic: traffic.result(),
    metrics: redis ? callSids.map((sid) => redis.metrics.get(sid)) : [],
    summaries,
    usage,
    redis,
    clock: placed.clockStats(),
    benchLoopDelayMs: { p99: loopLagMs(loop.percentile(99)), max: loopLagMs(loop.max) },
    wallSeconds: (performance.now() - startedAt) / 1000,
    hostBusySeconds,
    hostStealSeconds,
    steadySeconds: resources.steady.seconds,
  };
}
