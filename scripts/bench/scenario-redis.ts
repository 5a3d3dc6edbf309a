/**
 * Redis's side of a system scenario: memory while the calls are live (per live
 * call, against the baseline before the first call), per-key sizes of a few
 * live calls, and after the calls end: commands and server CPU used, whether
 * every transient per-call key is gone, and what memory remains per call.
 */
import type { TwilioCallerDouble } from '@voice/testkit';
import type { CommandDelta, KeyKind, RedisProbe, RedisSnapshot } from './redis-stats.js';
import { SteadyWindow } from './resources.js';

const FINALIZE_TIMEOUT_MS = 20_000;
const LEFTOVER_TIMEOUT_MS = 5_000;
const POLL_MS = 500;
/** Live calls whose keys are sized with MEMORY USAGE (more would disturb the run). */
const KEY_SAMPLE_CALLS = 10;
/** Memory per live call is taken over samples with at least this share of the peak live calls. */
const STEADY_SHARE = 0.9;

export interface RedisCost {
  commands: CommandDelta;
  cpuSeconds: number;
  steadyCpuSeconds: number | undefined;
  /** Commands while every call was live (none starting or ending), and how long that lasted. */
  steadyCommands: { total: number; seconds: number } | undefined;
  peakLive: number;
  /** Median over the steady samples of (used_memory - baseline) / live calls. */
  memoryPerLiveCallBytes: number | undefined;
  liveKeyBytes: Partial<Record<KeyKind, number>>;
  /** (used_memory after the calls ended - baseline) / calls. */
  residualPerCallBytes: number;
  residualKeyBytes: Partial<Record<KeyKind, number>>;
  leftovers: { total: number; byKey: Record<string, number> };
  /** Calls whose `call.metrics` never appeared. */
  unfinalized: number;
  metrics: Map<string, Record<string, string> | undefined>;
}

export class RedisMemorySampler {
  private readonly samples: Array<{ live: number; used: number }> = [];
  private readonly steady = new SteadyWindow();
  private readonly steadyCpu: { start?: number; end?: number } = {};
  private readonly steadySnapshots: { start?: { snap: RedisSnapshot; own: Map<string, number> }; end?: RedisSnapshot } =
    {};
  private liveKeyBytes: Partial<Record<KeyKind, number>> | undefined;

  private constructor(
    private readonly probe: RedisProbe,
    readonly before: RedisSnapshot,
    readonly ownBefore: Map<string, number>,
  ) {}

  static async begin(probe: RedisProbe): Promise<RedisMemorySampler> {
    const ownBefore = probe.ownCounts();
    return new RedisMemorySampler(probe, await probe.snapshot(), ownBefore);
  }

  /** One sample; the first time every call is live, the live calls' keys are sized too. */
  async sample(live: number, callers: readonly TwilioCallerDouble[], planned: number): Promise<void> {
    this.samples.push({ live, used: await this.probe.usedMemory() });
    const edge = this.steady.update(live, planned);
    if (edge) this.steadyCpu[edge] = await this.probe.cpuSeconds();
    if (edge === 'start')
      this.steadySnapshots.start = { own: this.probe.ownCounts(), snap: await this.probe.snapshot() };
    if (edge === 'end') this.steadySnapshots.end = await this.probe.snapshot();
    if (this.liveKeyBytes === undefined && live === planned) {
      const sample = callers
        .filter((c) => c.state === 'streaming')
        .slice(0, KEY_SAMPLE_CALLS)
        .map((c) => c.callSid);
      this.liveKeyBytes = await this.probe.keyMemory(sample);
    }
  }

  get peakLive(): number {
    return this.samples.reduce((max, s) => Math.max(max, s.live), 0);
  }

  memoryPerLiveCall(): number | undefined {
    const floor = Math.max(1, Math.ceil(this.peakLive * STEADY_SHARE));
    const perCall = this.samples.filter((s) => s.live >= floor).map((s) => (s.used - this.before.usedMemory) / s.live);
    if (perCall.length === 0) return undefined;
    perCall.sort((a, b) => a - b);
    return perCall[Math.floor(perCall.length / 2)];
  }

  /** Redis server CPU seconds while every call was live. */
  get steadyCpuSeconds(): number | undefined {
    const { start, end } = this.steadyCpu;
    return start === undefined || end === undefined ? undefined : end - start;
  }

  /** What a live call costs Redis per second once set up: commands between the steady window's edges. */
  get steadyCommands(): { total: number; seconds: number } | undefined {
    const { start, end } = this.steadySnapshots;
    const seconds = this.steady.seconds;
    if (!start || !end || seconds === undefined) return undefined;
    return { total: this.probe.commandsBetween(start.snap, end, start.own).total, seconds };
  }

  get keyBytes(): Partial<Record<KeyKind, number>> {
    return this.liveKeyBytes ?? {};
  }
}

async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let value = await read();
  while (!done(value) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    value = await read();
  }
  return value;
}

export async function measureRedis(
  probe: RedisProbe,
  memory: RedisMemorySampler,
  callSids: readonly string[],
): Promise<RedisCost> {
  const metrics = await pollUntil(
    () => probe.callMetrics(callSids),
    (m) => [...m.values()].every((fields) => fields !== undefined),
    FINALIZE_TIMEOUT_MS,
  );
  const leftovers = await pollUntil(
    () => probe.leftovers(callSids),
    (l) => l.total === 0,
    LEFTOVER_TIMEOUT_MS,
  );
  const after = await probe.snapshot();
  const residualKeyBytes = await probe.keyMemory(callSids.slice(0, KEY_SAMPLE_CALLS));
  return {
    commands: probe.commandsBetween(memory.before, after, memory.ownBefore),
    cpuSeconds: after.cpuSeconds - memory.before.cpuSeconds,
    steadyCpuSeconds: memory.steadyCpuSeconds,
    steadyCommands: memory.steadyCommands,
    peakLive: memory.peakLive,
    memoryPerLiveCallBytes: memory.memoryPerLiveCall(),
    liveKeyBytes: memory.keyBytes,
    residualPerCallBytes: (after.usedMemory - memory.before.usedMemory) / Math.max(1, callSids.length),
    residualKeyBytes,
    leftovers,
    unfinalized: [...metrics.values()].filter((m) => m === undefined).length,
    metrics,
  };
}
