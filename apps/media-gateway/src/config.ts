/**
 * The media gateway's configuration: every threshold it uses, with its default,
 * in one place. Parsed once in main; components receive the typed object.
 */
import { fileURLToPath } from 'node:url';
import { ConfigError, field, parseEnv } from '@voice/config';
import type { EnvSource } from '@voice/config';
import type { LogLevel } from '@voice/logging';
import { STREAM_TAIL_POOL_DEFAULTS } from '@voice/redis';

export const SERVICE_NAME = 'media-gateway';

/** The local WebSocket path; the public stream URL must use the same path (only the origin differs). */
export const MEDIA_PATH = '/ws/twilio-media';

export const DEFAULTS = {
  port: 3001,
  /** Twilio normally sends START within a few hundred ms of the upgrade; past this it is worth a note. */
  startWarnMs: 2500,
  /** Give up on a socket that has not sent START by then: a ghost, or a failed call. */
  startTimeoutMs: 5000,
  /** Real frames are about 300 bytes; anything near this is not Twilio. ws closes bigger frames with 1009. */
  maxMessageBytes: 65_536,
  /** Twilio sends 50 media frames/s plus a few marks; well above that is a runaway sender. */
  maxMessagesPerSecond: 200,
  /** How long stop() lets live calls finish before closing them (under the shutdown deadline). */
  drainTimeoutMs: 20_000,
  /** Window of the flood guard's message count. */
  floodWindowMs: 1000,
  /** Messages held while START's token check is in flight (Twilio sends media right behind START). */
  startBacklogMaxMessages: 500,
  /** Bound on the shared ghost-socket stream (an inspection aid, not an archive). */
  ghostStreamMaxLen: 10_000,
  /** After stop() closes a socket (1001), how long the close handshake may take before it is cut. */
  closeGraceMs: 1000,
  /** Shutdown deadline = drain timeout + this, for closing sockets and connections after the drain. */
  shutdownMarginMs: 5000,
  /** A failing Redis would otherwise log 50 errors per second per call: log the first, then every Nth. */
  writeErrorLogEvery: 250,
  /** The package's own clips, found from this module's location so it works from src/ and dist/ alike. */
  clipsDir: fileURLToPath(new URL('../assets/clips/', import.meta.url)),
  /**
   * Audio per media message when playing a clip. Twilio accepts any length; 100 ms keeps a 2.5 s
   * clip to 25 messages, and clips are never truncated at a mark the way model audio is.
   */
  clipChunkMs: 100,
  /**
   * Hangup with a clip: the socket closes when Twilio echoes the mark after the clip, or at the
   * latest this long after the estimated end of playback (a lost echo must not hold the call open).
   */
  hangupClipGraceMs: 2000,
  /**
   * How often live calls' owners are checked. A call whose bridge died (owner key gone, or its
   * heartbeat expired) is offered again, so another bridge takes it over instead of the caller
   * sitting in silence until they hang up.
   */
  ownerCheckMs: 2000,
  /** Blocking connections that follow the calls' outbound streams (see StreamTailPool). */
  streamTailConnections: STREAM_TAIL_POOL_DEFAULTS.connections,
} as const;

export interface GatewayConfig {
  port: number;
  redisUrl: string;
  databaseUrl: string;
  namespace: string;
  /** The wss URL Twilio connects to (and signs), e.g. wss://voice.example.com/ws/twilio-media. */
  publicStreamUrl: string;
  twilioAuthToken: string;
  startWarnMs: number;
  startTimeoutMs: number;
  maxMessageBytes: number;
  maxMessagesPerSecond: number;
  drainTimeoutMs: number;
  startBacklogMaxMessages: number;
  floodWindowMs: number;
  ghostStreamMaxLen: number;
  closeGraceMs: number;
  writeErrorLogEvery: number;
  /** Directory holding <clip>.ulaw for every ClipName. */
  clipsDir: string;
  clipChunkMs: number;
  hangupClipGraceMs: number;
  ownerCheckMs: number;
  streamTailConnections: number;
  logLevel: LogLevel;
  instanceId: string;
}

const parsesAs = (v: string, check: (url: URL) => boolean) => {
  try {
    return check(new URL(v));
  } catch {
    return false;
  }
};

// requiredString first, so an unset variable reads "is required" rather than a zod type error.
const publicStreamUrl = () =>
  field
    .requiredString()
    .refine((v) => parsesAs(v, (url) => url.protocol === 'wss:'), 'must be a URL starting with wss://')
    .refine(
      (v) => parsesAs(v, (url) => url.pathname === MEDIA_PATH && url.search === '' && url.hash === ''),
      `must end with the path ${MEDIA_PATH} and carry no query string (Twilio drops it)`,
    );

const shape = {
  GATEWAY_PORT: field.port(DEFAULTS.port),
  REDIS_URL: field.redisUrl(),
  DATABASE_URL: field.databaseUrl(),
  REDIS_NAMESPACE: field.namespace(),
  PUBLIC_STREAM_URL: publicStreamUrl(),
  TWILIO_AUTH_TOKEN: field.requiredString(),
  START_WARN_MS: field.positiveInt(DEFAULTS.startWarnMs),
  START_TIMEOUT_MS: field.positiveInt(DEFAULTS.startTimeoutMs),
  MAX_MESSAGE_BYTES: field.positiveInt(DEFAULTS.maxMessageBytes),
  MAX_MESSAGES_PER_SECOND: field.positiveInt(DEFAULTS.maxMessagesPerSecond),
  DRAIN_TIMEOUT_MS: field.int(DEFAULTS.drainTimeoutMs),
  START_BACKLOG_MAX_MESSAGES: field.positiveInt(DEFAULTS.startBacklogMaxMessages),
  CLIPS_DIR: field.string(DEFAULTS.clipsDir),
  HANGUP_CLIP_GRACE_MS: field.int(DEFAULTS.hangupClipGraceMs),
  OWNER_CHECK_MS: field.positiveInt(DEFAULTS.ownerCheckMs),
  STREAM_TAIL_CONNECTIONS: field.positiveInt(DEFAULTS.streamTailConnections),
  LOG_LEVEL: field.logLevel(),
  INSTANCE_ID: field.instanceId(SERVICE_NAME),
};

export function loadGatewayConfig(env: EnvSource): GatewayConfig {
  const e = parseEnv(shape, env);
  if (e.START_WARN_MS >= e.START_TIMEOUT_MS) {
    throw new ConfigError(
      'START_WARN_MS',
      `(${e.START_WARN_MS}) must be less than START_TIMEOUT_MS (${e.START_TIMEOUT_MS})`,
    );
  }
  return {
    port: e.GATEWAY_PORT,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    namespace: e.REDIS_NAMESPACE,
    publicStreamUrl: e.PUBLIC_STREAM_URL,
    twilioAuthToken: e.TWILIO_AUTH_TOKEN,
    startWarnMs: e.START_WARN_MS,
    startTimeoutMs: e.START_TIMEOUT_MS,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxMessagesPerSecond: e.MAX_MESSAGES_PER_SECOND,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    startBacklogMaxMessages: e.START_BACKLOG_MAX_MESSAGES,
    floodWindowMs: DEFAULTS.floodWindowMs,
    ghostStreamMaxLen: DEFAULTS.ghostStreamMaxLen,
    closeGraceMs: DEFAULTS.closeGraceMs,
    writeErrorLogEvery: DEFAULTS.writeErrorLogEvery,
    clipsDir: e.CLIPS_DIR,
    clipChunkMs: DEFAULTS.clipChunkMs,
    hangupClipGraceMs: e.HANGUP_CLIP_GRACE_MS,
    ownerCheckMs: e.OWNER_CHECK_MS,
    streamTailConnections: e.STREAM_TAIL_CONNECTIONS,
    logLevel: e.LOG_LEVEL,
    instanceId: e.INSTANCE_ID,
  };
}
