/**
 * The two set-ups a scenario places calls on, both against the same in-process
 * Realtime double: the system (webhook, gateways, bridges as processes, state
 * in Redis), with or without warm sessions, and the direct bridge (one process).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  REPO_ROOT,
  freePort,
  startProcessStack,
  startServiceProcess,
  type ServiceProcess,
  type ServiceRuntime,
} from '@voice/testkit';
import type { PathName } from './flags.js';
import type { Measured } from './resources.js';

export const BENCH_AUTH_TOKEN = 'bench-twilio-auth-token';
const SYSTEM_PUBLIC_ORIGIN = 'https://bench.example.test';
const DIRECT_PUBLIC_ORIGIN = 'https://direct.bench.test';
export const DIRECT_BRIDGE_SOURCE = 'scripts/bench/direct-bridge.ts';
/** Service logs at warn and above: info lines per call would cost CPU the bench is measuring. */
const SERVICE_LOG_LEVEL = 'warn';

export interface ModelEndpoint {
  baseURL: string;
  certPath: string;
  apiKey: string;
}

export interface Target {
  path: PathName;
  role: 'system' | 'direct';
  /** Where the webhook really listens, and the URL Twilio signs. */
  webhookUrl: string;
  publicWebhookUrl: string;
  /** Maps the public stream URL from the TwiML to a local socket; calls are spread over gateways. */
  resolveStreamUrl(callIndex: number): (publicUrl: string) => string;
  /** Redis namespace of the system's shared keys (undefined for the direct bridge). */
  namespace: string | undefined;
  measured(): Measured[];
  stop(): Promise<void>;
}

export interface TargetOptions {
  model: ModelEndpoint;
  redisUrl: string;
  databaseUrl: string;
  gateways: number;
  bridges: number;
  /** Directory for V8 CPU profiles of the services (undefined: no profiling). */
  cpuProfDir: string | undefined;
  /** More environment for every service of the system set-up (e.g. BRIDGE_MAX_CALLS). */
  extraEnv?: Record<string, string>;
  /** How both set-ups run: `build` (what ships) or `source` (tsx). */
  runtime: ServiceRuntime;
  /** The direct bridge's entry: compiled JavaScript with `build`, else its TypeScript source. */
  directBridgeEntry: string;
  onLine: (label: string, line: string) => void;
}

/** Node 20 refuses --cpu-prof in NODE_OPTIONS; a preloaded module runs the same profiler. */
const CPU_PROFILER = join(REPO_ROOT, 'scripts/bench/cpu-profiler.mjs');

function profilingEnv(dir: string | undefined, name: string): Record<string, string> {
  if (!dir) return {};
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  return { NODE_OPTIONS: `--import=${CPU_PROFILER}`, BENCH_CPU_PROF_DIR: out };
}

export async function startSystemTarget(path: 'warm' | 'cold', options: TargetOptions): Promise<Target> {
  const namespace = `bench-${path}-${randomBytes(3).toString('hex')}`;
  const stack = await startProcessStack({
    env: {
      REDIS_URL: options.redisUrl,
      DATABASE_URL: options.databaseUrl,
      REDIS_NAMESPACE: namespace,
      PUBLIC_BASE_URL: SYSTEM_PUBLIC_ORIGIN,
      PUBLIC_STREAM_URL: `${SYSTEM_PUBLIC_ORIGIN.replace('https', 'wss')}/ws/twilio-media`,
      TWILIO_AUTH_TOKEN: BENCH_AUTH_TOKEN,
      LOG_LEVEL: SERVICE_LOG_LEVEL,
      WARM_SESSIONS_ENABLED: String(path === 'warm'),
      ...profilingEnv(options.cpuProfDir, `system-${path}`),
      ...options.extraEnv,
    },
    gateways: options.gateways,
    bridges: options.bridges,
    realtime: options.model,
    onLine: options.onLine,
    runtime: options.runtime,
  });
  return {
    path,
    role: 'system',
    webhookUrl: `http://127.0.0.1:${stack.webhookPort}/twilio/voice`,
    publicWebhookUrl: `${SYSTEM_PUBLIC_ORIGIN}/twilio/voice`,
    resolveStreamUrl: (callIndex) => (url) => {
      const port = stack.gatewayPorts[callIndex % stack.gatewayPorts.length]!;
      return `ws://127.0.0.1:${port}${new URL(url).pathname}`;
    },
    namespace,
    measured: () =>
      stack.processes.filter((p) => !p.label.startsWith('realtime-double')).map((p) => measuredOf(p, 'system')),
    stop: () => stack.stop(),
  };
}

export async function startDirectTarget(options: TargetOptions): Promise<Target> {
  const port = await freePort();
  const proc = await startServiceProcess({
    name: 'realtime-bridge',
    label: 'direct-bridge',
    entry: options.directBridgeEntry,
    runtime: options.runtime,
    env: {
      DIRECT_BRIDGE_PORT: String(port),
      PUBLIC_STREAM_URL: `${DIRECT_PUBLIC_ORIGIN.replace('https', 'wss')}/media-stream`,
      OPENAI_BASE_URL: options.model.baseURL,
      OPENAI_API_KEY: options.model.apiKey,
      NODE_EXTRA_CA_CERTS: options.model.certPath,
      ...profilingEnv(options.cpuProfDir, 'direct'),
    },
    readyPort: port,
    onLine: (line) => options.onLine('direct-bridge', line),
  });
  return {
    path: 'direct',
    role: 'direct',
    webhookUrl: `http://127.0.0.1:${port}/incoming-call`,
    publicWebhookUrl: `${DIRECT_PUBLIC_ORIGIN}/incoming-call`,
    resolveStreamUrl: () => (url) => `ws://127.0.0.1:${port}${new URL(url).pathname}`,
    namespace: undefined,
    measured: () => [measuredOf(proc, 'direct')],
    stop: async () => {
      await proc.stop();
    },
  };
}

function measuredOf(proc: ServiceProcess, role: 'system' | 'direct'): Measured {
  return { label: proc.label, role, pid: proc.pid };
}
