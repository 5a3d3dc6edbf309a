/** What every check shares: the services' configuration and the facts derived from it. */
import type { Report } from './report.js';
import type { LoadedConfig, ServiceConfig } from './services.js';
import type { EnvEntry } from './env-example.js';
import { SHUTDOWN_FALLBACK_WAIT_MS } from '../../apps/realtime-bridge/src/config.js';

export const ENV_FILE = '.env.example';
/** Read by something other than a config.ts, and documented in .env.example. */
export const EXTRAS: Record<string, string> = {
  NODE_EXTRA_CA_CERTS: 'read by Node itself at start',
};
/** Each main.ts: shutdown deadline = DRAIN_TIMEOUT_MS + 5 s (the bridge's: + SHUTDOWN_FALLBACK_WAIT_MS more). */
export const SHUTDOWN_MARGIN_S = 5;

/** After its drain, what a service's shutdown may still take: the margin, and the bridge's fallback wait. */
export function shutdownAfterDrainS(svc: { name: string }): number {
  return SHUTDOWN_MARGIN_S + (svc.name === 'realtime-bridge' ? SHUTDOWN_FALLBACK_WAIT_MS / MS_PER_SECOND : 0);
}
export const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
export const DEFAULT_MEDIA_PATH = '/ws/twilio-media';

export interface CheckContext {
  root: string;
  report: Report;
  services: ServiceConfig[];
  byName: Map<string, ServiceConfig>;
  configKeys: Set<string>;
  readersOf(key: string): ServiceConfig[];
  /** The bridge: listens on MEDIA_LINK_PORT. */
  linkListener: ServiceConfig | undefined;
  linkPort: number | undefined;
  /** Both ends of the media link (they read MEDIA_LINK_SECRET). */
  linkEnds: ServiceConfig[];
  /** Variables both ends read: one value on both, or the link breaks. */
  linkShared: string[];
  entries: EnvEntry[];
  envNames: Set<string>;
  mediaPath: string;
}

export function buildContext(
  root: string,
  report: Report,
  services: ServiceConfig[],
  entries: EnvEntry[],
): CheckContext {
  const readersOf = (key: string) => services.filter((s) => s.keys.has(key));
  const linkListener = readersOf('MEDIA_LINK_PORT')[0];
  const linkEnds = readersOf('MEDIA_LINK_SECRET');
  const shared = linkEnds.reduce<Set<string> | undefined>(
    (acc, s) => (acc ? new Set([...acc].filter((k) => s.keys.has(k))) : new Set(s.keys)),
    undefined,
  );
  const byName = new Map(services.map((s) => [s.name, s]));
  const mediaPath = byName.get('media-gateway')?.module.MEDIA_PATH;
  return {
    root,
    report,
    services,
    byName,
    configKeys: new Set(services.flatMap((s) => [...s.keys])),
    readersOf,
    linkListener,
    linkPort: linkListener?.defaults.link?.port,
    linkEnds,
    linkShared: [...(shared ?? [])].sort().filter((k) => k !== 'INSTANCE_ID'),
    entries,
    envNames: new Set(entries.map((e) => e.name)),
    mediaPath: typeof mediaPath === 'string' ? mediaPath : DEFAULT_MEDIA_PATH,
  };
}

/** The app a container command runs (`node apps/<name>/dist/main.js`), `missing` when it has no config.ts. */
export function serviceOfCommand(
  ctx: CheckContext,
  command: string | string[] | undefined,
): ServiceConfig | { missing: string } | undefined {
  const text = ([] as string[]).concat(command ?? []).join(' ');
  const m = /apps\/([\w-]+)\/dist\/main\.js/.exec(text);
  if (!m) return undefined;
  return ctx.byName.get(m[1]!) ?? { missing: m[1]! };
}

export function isMissing(svc: ServiceConfig | { missing: string }): svc is { missing: string } {
  return 'missing' in svc;
}

/** "20s", "1m", "35" -> seconds. */
export function secondsOf(value: unknown): number {
  const m = /^(\d+)(s|m)?$/.exec(String(value));
  return m ? Number(m[1]) * (m[2] === 'm' ? SECONDS_PER_MINUTE : 1) : NaN;
}

/** A compose value `${VAR:-default}` counts as its default (empty: the code's default). */
export function uninterpolated(value: unknown): string | undefined {
  const text = value === undefined || value === null ? '' : String(value);
  const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-(.*))?\}$/.exec(text);
  return m ? m[1] : value === undefined || value === null ? undefined : text;
}

export function drainMsOf(svc: ServiceConfig, value: unknown): number {
  const v = uninterpolated(value);
  return v !== undefined && v !== '' ? Number(v) : (svc.defaults.drainTimeoutMs ?? NaN);
}

export function defaultPort(svc: { defaults: LoadedConfig }): number | undefined {
  return svc.defaults.port;
}
