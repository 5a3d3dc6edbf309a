/**
 * `npm run bench -- [flags]`: what to run and with which model delays. Every
 * default is a named constant here; `--quick` swaps in the short profile.
 */
import { parseArgs } from 'node:util';

export const BENCH_DEFAULTS = {
  calls: [1, 50, 200],
  durationS: 30,
  connectDelayMs: 300,
  firstAudioDelayMs: 400,
  /** Real Twilio opens the stream a second or more after the webhook; warm sessions use that gap. */
  startDelayMs: 1000,
  /** Calls placed per second while a scenario ramps up (a burst of 200 at once is not how calls arrive). */
  arrivalRate: 20,
  /**
   * The double streams the greeting at this multiple of real time. 1 spreads model audio over the
   * call so model-to-caller latency is sampled in the steady state, not only in the first second.
   */
  realtimeFactor: 1,
  gateways: 1,
  bridges: 1,
  /** The media link alone: seconds of traffic at the largest call count. */
  linkMicroSeconds: 10,
  /** The floor of the two-process shape (floor.mjs), once per round: calls, and seconds per shape. */
  floorCalls: 50,
  floorSeconds: 15,
  /** Admission: two bridges of this capacity, and this many callers more than they take. */
  admissionPerBridge: 20,
  admissionExtra: 10,
  admissionDurationS: 6,
  /** Outbound: calls placed through POST /calls, answered by a person after this ring, lasting this long. */
  outboundCalls: 20,
  outboundRingMs: 1500,
  outboundDurationS: 5,
} as const;

/** Niceness of the processes under test (services, Redis); the bench itself stays at 0. */
export const SERVICE_NICENESS = 5;

export const QUICK_PROFILE = {
  calls: [1, 10],
  durationS: 4,
  arrivalRate: 40,
  linkMicroSeconds: 3,
  floorCalls: 10,
  floorSeconds: 3,
  admissionPerBridge: 3,
  admissionExtra: 4,
  admissionDurationS: 4,
  outboundCalls: 3,
  outboundDurationS: 3,
} as const;

export type PathName = 'warm' | 'cold' | 'direct';

export interface BenchFlags {
  quick: boolean;
  calls: number[];
  durationS: number;
  connectDelayMs: number;
  firstAudioDelayMs: number;
  startDelayMs: number;
  arrivalRate: number;
  realtimeFactor: number;
  gateways: number;
  bridges: number;
  /** Which set-ups run, in order: the system with warm sessions, without, and the direct bridge. */
  paths: PathName[];
  /** Write V8 CPU profiles of the services (NODE_OPTIONS=--cpu-prof) next to the JSON result. */
  cpuProf: boolean;
  /** Leave the bench calls' timelines in Redis (default: deleted once measured). */
  keepKeys: boolean;
  /** Use REDIS_URL instead of a private redis-server (whose counts are the bench's alone). */
  sharedRedis: boolean;
  /** Run the processes under test at a lower priority than the load generator. */
  renice: boolean;
  /** Frame phases across calls: spread (each call its own clock, like real streams) or aligned (one burst per tick). */
  phase: 'spread' | 'aligned';
  /** Measure the media link alone (its own CPU and latency). */
  linkMicro: boolean;
  linkMicroSeconds: number;
  /** Bare relays of both shapes once per round, their CPU ratio the floor of ours (undefined: --no-floor). */
  floor: { calls: number; seconds: number } | undefined;
  /** The admission scenario (undefined: --no-admission). */
  admission: { perBridge: number; extra: number; durationS: number; startDelayMs: number } | undefined;
  /** The outbound scenario (undefined: --no-outbound). */
  outbound: { calls: number; ringMs: number; durationMs: number; arrivalRate: number } | undefined;
  /** More environment for the system's services (`--service-env KEY=VALUE`, repeatable): A/B runs of a setting. */
  serviceEnv: Record<string, string>;
  /** build: the services as shipped (dist/main.js) and the direct bridge compiled alike; source: both through tsx. */
  runtime: 'build' | 'source';
  /**
   * Rounds of every set-up and call count, the order of set-ups reversed every other round: the
   * machine's speed drifts between runs, so the CPU ratio is taken per round and its median shown.
   */
  rounds: number;
}

export const USAGE = `Usage: npm run bench -- [--quick] [--calls 1,50,200] [--duration-s N]
  [--connect-delay-ms 300] [--first-audio-delay-ms 400] [--start-delay-ms 1000]
  [--arrival-rate 20] [--realtime-factor 1] [--gateways 1] [--bridges 1]
  [--paths warm,cold,direct] [--no-direct] [--no-cold] [--cpu-prof] [--keep-keys] [--shared-redis] [--renice] [--phase spread|aligned]
  [--no-link-micro] [--no-floor] [--floor-calls 50] [--no-admission] [--admission-per-bridge N] [--admission-extra N]
  [--no-outbound] [--outbound-calls N] [--only-outbound (the outbound row alone)]
  [--service-env KEY=VALUE (repeatable; e.g. MEDIA_LINK_COALESCE_MS=1 for the system's services)]
  [--source (run services and direct bridge through tsx instead of their build)]
  [--rounds N (repeat the set-ups N times, order alternating; CPU ratio per round and its median)]`;

export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

const MS_PER_S = 1000;
const ALL_PATHS: readonly PathName[] = ['warm', 'cold', 'direct'];
const MAX_CALLS = 4095;

function positive(
  name: string,
  raw: string | undefined,
  fallback: number,
  { integer = false, allowZero = false } = {},
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const ok = Number.isFinite(n) && (allowZero ? n >= 0 : n > 0) && (!integer || Number.isInteger(n));
  if (!ok)
    throw new BenchUsageError(
      `--${name} must be a ${integer ? 'whole ' : ''}number${allowZero ? ' >= 0' : ' > 0'}, got '${raw}'`,
    );
  return n;
}

function callCounts(raw: string | undefined, fallback: readonly number[]): number[] {
  if (raw === undefined) return [...fallback];
  const counts = raw.split(',').map((part) => positive('calls', part.trim(), 0, { integer: true }));
  if (counts.some((n) => n > MAX_CALLS))
    throw new BenchUsageError(`--calls: at most ${MAX_CALLS} calls per scenario (the stamp holds 12 bits)`);
  return counts;
}

function pathList(raw: string | undefined, noDirect: boolean, noCold: boolean): PathName[] {
  const paths = raw === undefined ? [...ALL_PATHS] : raw.split(',').map((p) => p.trim());
  for (const p of paths)
    if (!ALL_PATHS.includes(p as PathName))
      throw new BenchUsageError(`--paths: unknown path '${p}' (warm, cold, direct)`);
  return (paths as PathName[]).filter((p) => !(noDirect && p === 'direct') && !(noCold && p === 'cold'));
}

const ENV_ASSIGNMENT = /^([A-Z][A-Z0-9_]*)=(.*)$/;

function serviceEnvOf(raw: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of raw ?? []) {
    const match = ENV_ASSIGNMENT.exec(item);
    if (!match) throw new BenchUsageError(`--service-env takes KEY=VALUE (KEY in capitals), got '${item}'`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

function phaseOf(raw: string | undefined): 'spread' | 'aligned' {
  if (raw === undefined || raw === 'spread' || raw === 'aligned') return raw ?? 'spread';
  throw new BenchUsageError(`--phase must be spread or aligned, got '${raw}'`);
}

export function parseBenchFlags(argv: string[]): BenchFlags | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      calls: { type: 'string' },
      'duration-s': { type: 'string' },
      'connect-delay-ms': { type: 'string' },
      'first-audio-delay-ms': { type: 'string' },
      'start-delay-ms': { type: 'string' },
      'arrival-rate': { type: 'string' },
      'realtime-factor': { type: 'string' },
      gateways: { type: 'string' },
      bridges: { type: 'string' },
      paths: { type: 'string' },
      'no-direct': { type: 'boolean' },
      'no-cold': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'keep-keys': { type: 'boolean' },
      'shared-redis': { type: 'boolean' },
      renice: { type: 'boolean' },
      phase: { type: 'string' },
      'no-link-micro': { type: 'boolean' },
      'no-floor': { type: 'boolean' },
      'floor-calls': { type: 'string' },
      'no-admission': { type: 'boolean' },
      'admission-per-bridge': { type: 'string' },
      'admission-extra': { type: 'string' },
      'no-outbound': { type: 'boolean' },
      'outbound-calls': { type: 'string' },
      'only-outbound': { type: 'boolean' },
      'service-env': { type: 'string', multiple: true },
      source: { type: 'boolean' },
      rounds: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const profile = quick ? { ...BENCH_DEFAULTS, ...QUICK_PROFILE } : BENCH_DEFAULTS;
  const onlyOutbound = values['only-outbound'] ?? false;
  if (onlyOutbound && values['no-outbound'])
    throw new BenchUsageError('--only-outbound and --no-outbound: nothing to run');
  const paths = onlyOutbound ? [] : pathList(values.paths, values['no-direct'] ?? false, values['no-cold'] ?? false);
  if (paths.length === 0 && !onlyOutbound) throw new BenchUsageError('nothing to run: every path was switched off');
  return {
    quick,
    calls: callCounts(values.calls, profile.calls),
    durationS: positive('duration-s', values['duration-s'], profile.durationS),
    connectDelayMs: positive('connect-delay-ms', values['connect-delay-ms'], profile.connectDelayMs, {
      allowZero: true,
    }),
    firstAudioDelayMs: positive('first-audio-delay-ms', values['first-audio-delay-ms'], profile.firstAudioDelayMs, {
      allowZero: true,
    }),
    startDelayMs: positive('start-delay-ms', values['start-delay-ms'], profile.startDelayMs, { allowZero: true }),
    arrivalRate: positive('arrival-rate', values['arrival-rate'], profile.arrivalRate),
    realtimeFactor: positive('realtime-factor', values['realtime-factor'], profile.realtimeFactor),
    gateways: positive('gateways', values.gateways, profile.gateways, { integer: true }),
    bridges: positive('bridges', values.bridges, profile.bridges, { integer: true }),
    paths,
    cpuProf: values['cpu-prof'] ?? false,
    keepKeys: values['keep-keys'] ?? false,
    sharedRedis: values['shared-redis'] ?? false,
    renice: values.renice ?? false,
    phase: phaseOf(values.phase),
    linkMicro: !onlyOutbound && !(values['no-link-micro'] ?? false),
    linkMicroSeconds: profile.linkMicroSeconds,
    floor:
      onlyOutbound || values['no-floor']
        ? undefined
        : {
            calls: positive('floor-calls', values['floor-calls'], profile.floorCalls, { integer: true }),
            seconds: profile.floorSeconds,
          },
    serviceEnv: serviceEnvOf(values['service-env']),
    runtime: values.source ? 'source' : 'build',
    rounds: positive('rounds', values.rounds, 1, { integer: true }),
    outbound: values['no-outbound']
      ? undefined
      : {
          calls: positive('outbound-calls', values['outbound-calls'], profile.outboundCalls, { integer: true }),
          ringMs: profile.outboundRingMs,
          durationMs: profile.outboundDurationS * MS_PER_S,
          arrivalRate: positive('arrival-rate', values['arrival-rate'], profile.arrivalRate),
        },
    admission:
      onlyOutbound || values['no-admission']
        ? undefined
        : {
            perBridge: positive('admission-per-bridge', values['admission-per-bridge'], profile.admissionPerBridge, {
              integer: true,
            }),
            extra: positive('admission-extra', values['admission-extra'], profile.admissionExtra, { integer: true }),
            durationS: profile.admissionDurationS,
            startDelayMs: profile.startDelayMs,
          },
  };
}
