/**
 * Turns scenario runs into the numbers the table prints and the JSON keeps:
 * greeting time by path, per-frame latency both ways and what the Redis design
 * adds to it (system minus the direct bridge, same calls, same run), frame
 * accounting, CPU per call-minute and peak RSS per service, Redis cost per call.
 */
import type { PathName } from './flags.js';
import { LatencyHistogram, type Percentiles } from './histogram.js';
import type { ScenarioRun } from './scenario.js';
import type { DirectionCounts } from './traffic.js';

export const GREETING_POINTS = [50, 95, 99] as const;
export const LATENCY_POINTS = [50, 99, 99.9] as const;

export interface DirectionReport {
  latency: Percentiles;
  /** HdrHistogram, compressed base64 (hdr-histogram-js decodeFromCompressedBase64), µs. */
  histogram: string;
  counts: DirectionCounts;
  /** This path's percentile minus the direct bridge's, ms (system paths, when direct ran). */
  addedMs?: Record<number, number | undefined>;
}

/** CPU of a set-up with no calls, in cores (measured once per set-up, before its first scenario). */
export interface IdleCost {
  servicesCores: number;
  redisCores: number;
}

export interface ScenarioReport {
  path: PathName;
  calls: number;
  /** Which round of `--rounds` (1-based). */
  round: number;
  durationS: number;
  wallSeconds: number;
  /** ms from START to the first model audio the caller received, by the path each call took. */
  greeting: Partial<Record<'warm' | 'cold' | 'direct', Percentiles>>;
  /** The system's own first_greeting_audio_ms (call.metrics), for cross-checking. */
  greetingReportedBySystem: Percentiles | undefined;
  callsWithoutGreeting: number;
  callerToModel: DirectionReport;
  modelToCaller: DirectionReport;
  cpu: {
    /** CPU seconds per call-minute, by service group (webhook, gateway, bridge, direct-bridge, bench). */
    perCallMinute: Record<string, number>;
    /** The set-up's own processes (system: webhook+gateways+bridges; direct: the bridge). */
    servicesPerCallMinute: number;
    redisPerCallMinute: number | undefined;
    ratioVsDirect?: number;
    ratioWithRedisVsDirect?: number;
    idle: IdleCost;
    /** The same while every call was live (streaming only, no set-up or tear-down); undefined without such a window. */
    steady?: {
      servicesPerCallMinute: number;
      redisPerCallMinute: number | undefined;
      ratioWithRedisVsDirect?: number;
      /** What a call costs beyond streaming (webhook, set-up, tear-down, records), services + Redis, CPU ms per call. */
      setupMsPerCall: number;
    };
  };
  peakRssMiB: Record<string, number>;
  redis:
    | {
        commandsPerCall: number;
        /** Commands per live call per second while every call was live (set-up and tear-down excluded). */
        steadyCommandsPerCallSecond: number | undefined;
        topCommands: Array<[string, number]>;
        kbPerLiveCall: number | undefined;
        liveKeyBytes: Record<string, number>;
        residualKbPerCall: number;
        residualKeyBytes: Record<string, number>;
        leftoverKeys: number;
        leftoverByKey: Record<string, number>;
        unfinalized: number;
      }
    | undefined;
  health: {
    abnormalEnds: number;
    callerWarnings: number;
    orphanSessions: number;
    unreadableStamps: number;
    clockLateTicks: number;
    clockMaxLagMs: number;
    benchLoopP99Ms: number;
    benchLoopMaxMs: number;
    /** Average cores busy with work that is not the bench's (other programs on the host), over the scenario. */
    otherLoadCores: number;
    /** Average cores the hypervisor took from this VM over the scenario. */
    stealCores: number;
  };
}

const BYTES_PER_KB = 1024;
const TOP_COMMANDS = 8;
const MS_PER_S = 1000;

function percentilesOf(values: readonly number[], points: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  const h = new LatencyHistogram();
  for (const v of values) h.recordMs(v);
  return h.percentiles(points);
}

const group = (label: string) => label.replace(/-\d+$/, '');

function greetingByPath(run: ScenarioRun): ScenarioReport['greeting'] {
  const byPath: Record<'warm' | 'cold' | 'direct', number[]> = { warm: [], cold: [], direct: [] };
  run.traffic.greetingMs.forEach((ms, i) => {
    if (ms === undefined) return;
    const path = run.spec.path === 'direct' ? 'direct' : run.metrics[i]?.greeting_path === 'warm' ? 'warm' : 'cold';
    byPath[path].push(ms);
  });
  const out: ScenarioReport['greeting'] = {};
  for (const path of ['warm', 'cold', 'direct'] as const) {
    const p = percentilesOf(byPath[path], GREETING_POINTS);
    if (p) out[path] = p;
  }
  return out;
}

function steadyCost(
  run: ScenarioRun,
  steadyServices: number[],
  steadyCallMinutes: number,
): NonNullable<ScenarioReport['cpu']['steady']> {
  const callMinutes = (run.spec.calls * run.spec.durationS) / 60;
  const servicesPerCallMinute = steadyServices.reduce((a, b) => a + b, 0) / steadyCallMinutes;
  const steadyRedis = run.redis?.steadyCpuSeconds;
  const redisPerCallMinute = steadyRedis === undefined ? undefined : steadyRedis / steadyCallMinutes;
  const total =
    run.usage.filter((u) => u.role !== 'bench').reduce((n, u) => n + u.cpuSeconds, 0) + (run.redis?.cpuSeconds ?? 0);
  const streaming = (servicesPerCallMinute + (redisPerCallMinute ?? 0)) * callMinutes;
  return {
    servicesPerCallMinute,
    redisPerCallMinute,
    setupMsPerCall: (Math.max(0, total - streaming) / run.spec.calls) * MS_PER_S,
  };
}

function direction(histogram: LatencyHistogram, counts: DirectionCounts): DirectionReport {
  return { latency: histogram.percentiles(LATENCY_POINTS), histogram: histogram.encode(), counts };
}

export function reportScenario(run: ScenarioRun, idle: IdleCost, round = 1): ScenarioReport {
  const callMinutes = (run.spec.calls * run.spec.durationS) / 60;
  const perCallMinute: Record<string, number> = {};
  const peakRssMiB: Record<string, number> = {};
  let services = 0;
  for (const u of run.usage) {
    const name = group(u.label);
    perCallMinute[name] = (perCallMinute[name] ?? 0) + u.cpuSeconds / callMinutes;
    peakRssMiB[name] = Math.max(peakRssMiB[name] ?? 0, u.peakRssMiB);
    if (u.role !== 'bench') services += u.cpuSeconds / callMinutes;
  }
  const r = run.redis;
  const steadyCallMinutes = run.steadySeconds === undefined ? undefined : (run.spec.calls * run.steadySeconds) / 60;
  const steadyServices = run.usage.filter((u) => u.role !== 'bench').map((u) => u.steadyCpuSeconds);
  const steady =
    steadyCallMinutes && steadyServices.every((x) => x !== undefined)
      ? steadyCost(run, steadyServices as number[], steadyCallMinutes)
      : undefined;
  const reported = run.metrics.map((m) => Number(m?.first_greeting_audio_ms)).filter((n) => Number.isFinite(n));
  const kb = (bytes: number) => bytes / BYTES_PER_KB;
  return {
    path: run.spec.path,
    calls: run.spec.calls,
    round,
    durationS: run.spec.durationS,
    wallSeconds: run.wallSeconds,
    greeting: greetingByPath(run),
    greetingReportedBySystem: percentilesOf(reported, GREETING_POINTS),
    callsWithoutGreeting: run.traffic.greetingMs.filter((ms) => ms === undefined).length,
    callerToModel: direction(run.traffic.callerToModelLatency, run.traffic.callerToModel),
    modelToCaller: direction(run.traffic.modelToCallerLatency, run.traffic.modelToCaller),
    cpu: {
      perCallMinute,
      servicesPerCallMinute: services,
      redisPerCallMinute: r ? r.cpuSeconds / callMinutes : undefined,
      idle,
      ...(steady ? { steady } : {}),
    },
    peakRssMiB,
    redis: r && {
      commandsPerCall: r.commands.total / run.spec.calls,
      steadyCommandsPerCallSecond:
        r.steadyCommands && r.steadyCommands.seconds > 0
          ? r.steadyCommands.total / (run.spec.calls * r.steadyCommands.seconds)
          : undefined,
      topCommands: Object.entries(r.commands.byCommand)
        .sort((a, b) => b[1] - a[1])
        .slice(0, TOP_COMMANDS)
        .map(([name, n]) => [name, n / run.spec.calls] as [string, number]),
      kbPerLiveCall: r.memoryPerLiveCallBytes === undefined ? undefined : kb(r.memoryPerLiveCallBytes),
      liveKeyBytes: r.liveKeyBytes,
      residualKbPerCall: kb(r.residualPerCallBytes),
      residualKeyBytes: r.residualKeyBytes,
      leftoverKeys: r.leftovers.total,
      leftoverByKey: r.leftovers.byKey,
      unfinalized: r.unfinalized,
    },
    health: {
      abnormalEnds: run.summaries.filter((s) => s.endedBy !== 'caller').length,
      callerWarnings: run.summaries.reduce((n, s) => n + s.warnings.length, 0),
      orphanSessions: run.traffic.orphanSessions,
      unreadableStamps: run.traffic.unreadableStamps,
      clockLateTicks: run.clock.lateTicks,
      clockMaxLagMs: run.clock.maxLagMs,
      benchLoopP99Ms: run.benchLoopDelayMs.p99,
      benchLoopMaxMs: run.benchLoopDelayMs.max,
      otherLoadCores:
        Math.max(0, run.hostBusySeconds - run.usage.reduce((n, u) => n + u.cpuSeconds, 0) - (r?.cpuSeconds ?? 0)) /
        run.wallSeconds,
      stealCores: run.hostStealSeconds / run.wallSeconds,
    },
  };
}

/** Fills in what needs the direct bridge's run of the same call count: added latency and CPU ratios. */
export function compareWithDirect(reports: ScenarioReport[]): void {
  for (const report of reports) {
    if (report.path === 'direct') continue;
    const direct = reports.find((r) => r.path === 'direct' && r.calls === report.calls && r.round === report.round);
    if (!direct) continue;
    report.callerToModel.addedMs = added(report.callerToModel.latency, direct.callerToModel.latency);
    report.modelToCaller.addedMs = added(report.modelToCaller.latency, direct.modelToCaller.latency);
    const base = direct.cpu.servicesPerCallMinute;
    if (base > 0) {
      report.cpu.ratioVsDirect = report.cpu.servicesPerCallMinute / base;
      report.cpu.ratioWithRedisVsDirect =
        (report.cpu.servicesPerCallMinute + (report.cpu.redisPerCallMinute ?? 0)) / base;
    }
    const steadyBase = direct.cpu.steady?.servicesPerCallMinute;
    const steady = report.cpu.steady;
    if (steady && steadyBase)
      steady.ratioWithRedisVsDirect = (steady.servicesPerCallMinute + (steady.redisPerCallMinute ?? 0)) / steadyBase;
  }
}

function added(system: Percentiles, direct: Percentiles): Record<number, number | undefined> {
  const out: Record<number, number | undefined> = {};
  for (const p of LATENCY_POINTS) {
    const s = system.ms[p];
    const d = direct.ms[p];
    out[p] = s === undefined || d === undefined ? undefined : s - d;
  }
  return out;
}
