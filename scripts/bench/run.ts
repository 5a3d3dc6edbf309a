/**
 * The whole bench run: one in-process Realtime double (fixed delays, tapped for
 * stamps) shared by every set-up; for each set-up in turn (system with warm
 * sessions, system cold, direct bridge) start its processes, run every call
 * count, stop it and clear what it left in Redis.
 */
import { setPriority } from 'node:os';
import { Redis } from 'ioredis';
import { DEFAULT_REPLIES, LONG_REPLY_TEXT, RealtimeDouble, renderScript, type RealtimeDoubleTap } from '@voice/testkit';
import { SERVICE_NICENESS, type BenchFlags, type PathName } from './flags.js';
import { ServiceLogEcho, say } from './progress.js';
import { RedisProbe } from './redis-stats.js';
import { compareWithDirect, reportScenario, type IdleCost, type ScenarioReport } from './report.js';
import { ResourceSampler } from './resources.js';
import { runScenario } from './scenario.js';
import { StampCodec } from './stamp.js';
import { buildServices, compileDirectBridge } from './build.js';
import {
  DIRECT_BRIDGE_SOURCE,
  startDirectTarget,
  startSystemTarget,
  type Target,
  type TargetOptions,
} from './targets.js';
import type { TrafficRecorder } from './traffic.js';
import { runAdmission, type AdmissionResult } from './admission.js';
import { measureLink, type LinkMicroResult } from './link-micro.js';
import { runOutbound, type OutboundResult } from './outbound.js';
import { measureFloor, type FloorResult } from './floor.js';

const MODEL_API_KEY = 'sk-bench-realtime-double';
/** Lets the set-up settle (JIT, connections) between its start and the first scenario. */
const SETTLE_MS = 1000;
/** How long a set-up's idle CPU is measured before its first scenario. */
const IDLE_MEASURE_MS = 2000;
/** Load scenarios give the bridge room for every call and a few more. */
const LOAD_CAPACITY_MARGIN = 10;

export interface BenchRunOptions {
  flags: BenchFlags;
  redisUrl: string;
  /** The bench's own redis-server, reniced with the services (undefined: a shared Redis). */
  redisPid: number | undefined;
  databaseUrl: string;
  cpuProfDir: string | undefined;
}

export interface BenchRun {
  reports: ScenarioReport[];
  serviceProblems: Record<string, Record<string, number>>;
  /** The media link alone, in its own process (undefined with --no-link-micro). */
  link?: LinkMicroResult;
  /** Bare relays of both shapes, once per round (undefined with --no-floor). */
  floor?: FloorResult;
  /** Two full bridges and more callers than they take (undefined with --no-admission). */
  admission?: AdmissionResult;
  /** Calls placed through POST /calls and answered by a person (undefined with --no-outbound). */
  outbound?: OutboundResult;
}

export async function runBench(
  options: BenchRunOptions,
  onStop: (stop: () => Promise<void>) => void,
): Promise<BenchRun> {
  const { flags } = options;
  let recorder: TrafficRecorder | undefined;
  const tap: RealtimeDoubleTap = {
    onAppend: (sessionId, audio, at) => recorder?.onAppend(sessionId, audio, at),
    onDelta: (sessionId, audio) => recorder?.onDelta(sessionId, audio),
  };
  const double = new RealtimeDouble({
    apiKey: MODEL_API_KEY,
    behaviour: {
      connectDelayMs: flags.connectDelayMs,
      firstAudioDelayMs: flags.firstAudioDelayMs,
      realtimeFactor: flags.realtimeFactor,
      greetingText: LONG_REPLY_TEXT,
    },
    tap,
    recordFrames: false,
  });
  const redis = new Redis(options.redisUrl);
  const probe = new RedisProbe(redis);
  const codec = new StampCodec(performance.now());
  const echo = new ServiceLogEcho();
  const reports: ScenarioReport[] = [];
  let link: LinkMicroResult | undefined;
  const floor: FloorResult | undefined = flags.floor ? { ...flags.floor, runs: [], errors: [] } : undefined;
  let admission: AdmissionResult | undefined;
  let outbound: OutboundResult | undefined;
  const serviceProblems: Record<string, Record<string, number>> = {};
  const callSids: string[] = [];
  let target: Target | undefined;
  onStop(async () => {
    await target?.stop();
    await double.stop();
    redis.disconnect();
  });

  try {
    // Speech synthesis costs a few hundred ms of CPU per phrase (on a worker thread): render every phrase before measuring.
    await renderScript([LONG_REPLY_TEXT, ...DEFAULT_REPLIES].map((say) => ({ say })));
    await double.start();
    say(
      `Realtime double at ${double.baseURL} (connect ${flags.connectDelayMs} ms, first audio ${flags.firstAudioDelayMs} ms, ${flags.realtimeFactor}x real time)`,
    );
    const built = flags.runtime === 'build';
    if (built) buildServices();
    const targetOptions: TargetOptions = {
      runtime: flags.runtime,
      directBridgeEntry: built ? compileDirectBridge() : DIRECT_BRIDGE_SOURCE,
      model: { baseURL: double.baseURL, certPath: double.certPath, apiKey: MODEL_API_KEY },
      redisUrl: options.redisUrl,
      databaseUrl: options.databaseUrl,
      gateways: flags.gateways,
      bridges: flags.bridges,
      cpuProfDir: options.cpuProfDir,
      onLine: echo.onLine,
      // The load scenarios measure the transport, not admission: every bridge takes every call.
      extraEnv: {
        BRIDGE_MAX_CALLS: String(Math.max(...flags.calls, flags.outbound?.calls ?? 0) + LOAD_CAPACITY_MARGIN),
        ...flags.serviceEnv,
      },
    };
    for (let round = 1; round <= flags.rounds; round++) {
      // Every other round in reverse, so a drift of the machine's speed does not favour one set-up.
      const order = round % 2 === 1 ? flags.paths : [...flags.paths].reverse();
      if (flags.rounds > 1) say(`round ${round} of ${flags.rounds}: ${order.join(', ')}`);
      for (const path of order) {
        say(`starting ${describe(path)}...`);
        target =
          path === 'direct' ? await startDirectTarget(targetOptions) : await startSystemTarget(path, targetOptions);
        if (flags.renice)
          renice([...target.measured().map((p) => p.pid), ...(options.redisPid ? [options.redisPid] : [])]);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const idle = await measureIdle(target, probe);
        say(
          `${describe(path)} idle: ${(idle.servicesCores * 100).toFixed(1)}% of a core${target.role === 'system' ? `, Redis ${(idle.redisCores * 100).toFixed(1)}%` : ''}`,
        );
        for (const calls of flags.calls) {
          const run = await runScenario(
            {
              path,
              calls,
              durationS: flags.durationS,
              startDelayMs: flags.startDelayMs,
              arrivalRate: flags.arrivalRate,
              phase: flags.phase,
            },
            { target, codec, probe, setTrafficRecorder: (r) => (recorder = r) },
          );
          callSids.push(...run.summaries.map((s) => s.callSid));
          reports.push(reportScenario(run, idle, round));
          serviceProblems[`${path} ${calls}${flags.rounds > 1 ? ` round ${round}` : ''}`] = echo.take();
        }
        say(`stopping ${describe(path)}`);
        const stopping = target;
        target = undefined;
        await stopping.stop();
        if (stopping.namespace) await probe.deleteNamespace(stopping.namespace);
      }
      if (floor) {
        say(`the floor of the shape: bare relays, ${floor.calls} calls, ${floor.seconds} s per shape (floor.mjs)`);
        // An aside to the scenarios: its failure is reported, never allowed to lose the run's results.
        await measureFloor(floor.calls, floor.seconds).then(
          (m) => floor.runs.push({ ...m, round }),
          (err: Error) => {
            say(`the floor could not be measured: ${err.message}`);
            floor.errors.push(err.message);
          },
        );
      }
    }
    if (flags.linkMicro) {
      const calls = Math.max(...flags.calls);
      say(
        `the media link alone: ${calls} calls both ways for ${flags.linkMicroSeconds} s, then the same harness without it`,
      );
      link = await measureLink(calls, flags.linkMicroSeconds);
    }
    if (flags.admission) {
      admission = await runAdmission(flags.admission, { ...targetOptions, extraEnv: flags.serviceEnv }, codec);
    }
    if (flags.outbound) outbound = await runOutbound(flags.outbound, targetOptions);
  } finally {
    await target?.stop();
    await double.stop();
    if (!flags.keepKeys) await probe.deleteCallKeys(callSids).catch(() => undefined);
    redis.disconnect();
  }
  compareWithDirect(reports);
  return { reports, serviceProblems, link, floor, admission, outbound };
}

/**
 * The load generator must keep its strict 20 ms cadence and read arrival times
 * promptly even when the machine is saturated, or the latency it reports is its
 * own queueing. So the processes under test (either set-up alike, and Redis)
 * run at a lower priority than the bench; raising niceness needs no privilege.
 */
function renice(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      setPriority(pid, SERVICE_NICENESS);
    } catch (err) {
      say(`could not renice ${pid}: ${(err as Error).message}`);
    }
  }
}

/** CPU a set-up burns with no call at all (timers, heartbeats, queue polling), in cores. */
async function measureIdle(target: Target, probe: RedisProbe): Promise<IdleCost> {
  const sampler = new ResourceSampler(target.measured());
  const redisBefore = target.role === 'system' ? await probe.cpuSeconds() : 0;
  await new Promise((resolve) => setTimeout(resolve, IDLE_MEASURE_MS));
  const redisAfter = target.role === 'system' ? await probe.cpuSeconds() : 0;
  const seconds = IDLE_MEASURE_MS / 1000;
  const services = sampler.finish().reduce((n, u) => n + u.cpuSeconds, 0);
  return { servicesCores: services / seconds, redisCores: (redisAfter - redisBefore) / seconds };
}

function describe(path: PathName): string {
  if (path === 'direct') return 'the direct bridge (one process, both sockets)';
  return `the system (webhook, gateway, bridge processes; warm sessions ${path === 'warm' ? 'on' : 'off'})`;
}
