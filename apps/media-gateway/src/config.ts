/**
 * The media gateway's configuration: every threshold it uses, with its default,
 * in one place. Parsed once in main; components receive the typed object.
 */
import { fileURLToPath } from 'node:url';
import { ConfigError, field, parseEnv } from '@voice/config';
import type { EnvSource } from '@voice/config';
import type { LogLevel } from '@voice/logging';
import { MEDIA_LINK_DEFAULTS, type MediaLinkTimings } from '@voice/media-link';
import { BRIDGE_REGISTRY_DEFAULTS, type RedisEndpoint } from '@voice/redis';

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
  /**
   * Before closing a stream on purpose the gateway marks the call ended (so <Connect action> does not
   * reconnect it); the close waits at most this long for that Redis write.
   */
  endedMarkWaitMs: 250,
  /**
   * START's token check (one Redis round trip) gives up after this long: a Redis that accepts
   * connections but does not answer must not leave a caller in silence with no bridge to play
   * hold audio. The stream is refused (token_check_failed) and Twilio posts <Connect action>,
   * which answers the spoken fallback (or a new stream, once Redis answers again).
   */
  startCheckTimeoutMs: 3000,
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
  /** How often the bridge registry is read: new bridges are linked within this, dead ones noticed by their links first. */
  registryPollMs: 1000,
  /** Bridges report every second (HEARTBEAT_MS); a report older than this many beats is a dead bridge's. */
  bridgeHeartbeatMs: 1000,
  /**
   * A dial that failed is retried after this long (a dead bridge stays in the registry for a
   * few seconds; dialing it every poll would only log).
   */
  redialBackoffMs: 2000,
  /** A bridge must answer an attach (attached / refused) within this. */
  attachTimeoutMs: 1000,
  /**
   * After publishing a claim, how long to wait for a bridge to take the call before the caller
   * hears the busy message: a bridge with room answers in milliseconds; this covers a registry
   * that said "room" a moment too long.
   */
  claimTimeoutMs: 1500,
  /** Live Twilio sockets this gateway takes; past it /readyz is 503 and new upgrades are refused. */
  maxStreams: 500,
  /** Caller records held while a call has no bridge attached (setup, hand-over): 30 s of audio. */
  maxHeldCallerRecords: 1500,
  /**
   * Silence between two plays of the hold clip while the caller waits (session/hold-loop.ts): a
   * natural pause, well under the 1.5 s of silence a waiting caller may hear at most (the clip's
   * own trailing pause, about 0.1 s, and timer delays come on top).
   */
  holdAudioGapMs: 800,
} as const;

export interface GatewayConfig {
  port: number;
  redis: RedisEndpoint;
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
  endedMarkWaitMs: number;
  startCheckTimeoutMs: number;
  /** Directory holding <clip>.ulaw for every ClipName. */
  clipsDir: string;
  clipChunkMs: number;
  hangupClipGraceMs: number;
  link: { secret: string; timings: Partial<MediaLinkTimings> };
  registryPollMs: number;
  registryStaleMs: number;
  redialBackoffMs: number;
  attachTimeoutMs: number;
  claimTimeoutMs: number;
  maxStreams: number;
  maxHeldCallerRecords: number;
  holdAudioGapMs: number;
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
  REDIS_CLUSTER_NODES: field.redisClusterNodes(),
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
  MEDIA_LINK_SECRET: field.secret(),
  MEDIA_LINK_PING_MS: field.positiveInt(MEDIA_LINK_DEFAULTS.pingIntervalMs),
  MEDIA_LINK_DEAD_MS: field.positiveInt(MEDIA_LINK_DEFAULTS.deadAfterMs),
  MEDIA_LINK_COALESCE_MS: field.int(MEDIA_LINK_DEFAULTS.coalesceMs),
  GATEWAY_MAX_STREAMS: field.positiveInt(DEFAULTS.maxStreams),
  HEARTBEAT_MS: field.positiveInt(DEFAULTS.bridgeHeartbeatMs),
  REGISTRY_POLL_MS: field.positiveInt(DEFAULTS.registryPollMs),
  CLAIM_TIMEOUT_MS: field.positiveInt(DEFAULTS.claimTimeoutMs),
  START_CHECK_TIMEOUT_MS: field.positiveInt(DEFAULTS.startCheckTimeoutMs),
  HOLD_AUDIO_GAP_MS: field.int(DEFAULTS.holdAudioGapMs),
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
  if (e.MEDIA_LINK_DEAD_MS <= e.MEDIA_LINK_PING_MS) {
    throw new ConfigError(
      'MEDIA_LINK_DEAD_MS',
      `(${e.MEDIA_LINK_DEAD_MS}) must be more than MEDIA_LINK_PING_MS (${e.MEDIA_LINK_PING_MS})`,
    );
  }
  return {
    port: e.GATEWAY_PORT,
    redis: { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES },
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
    endedMarkWaitMs: DEFAULTS.endedMarkWaitMs,
    startCheckTimeoutMs: e.START_CHECK_TIMEOUT_MS,
    clipsDir: e.CLIPS_DIR,
    clipChunkMs: DEFAULTS.clipChunkMs,
    hangupClipGraceMs: e.HANGUP_CLIP_GRACE_MS,
    link: {
      secret: e.MEDIA_LINK_SECRET,
      timings: {
        pingIntervalMs: e.MEDIA_LINK_PING_MS,
        deadAfterMs: e.MEDIA_LINK_DEAD_MS,
        coalesceMs: e.MEDIA_LINK_COALESCE_MS,
      },
    },
    registryPollMs: e.REGISTRY_POLL_MS,
    registryStaleMs: e.HEARTBEAT_MS * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
    redialBackoffMs: DEFAULTS.redialBackoffMs,
    attachTimeoutMs: DEFAULTS.attachTimeoutMs,
    claimTimeoutMs: e.CLAIM_TIMEOUT_MS,
    maxStreams: e.GATEWAY_MAX_STREAMS,
    maxHeldCallerRecords: DEFAULTS.maxHeldCallerRecords,
    holdAudioGapMs: e.HOLD_AUDIO_GAP_MS,
    logLevel: e.LOG_LEVEL,
    instanceId: e.INSTANCE_ID,
  };
}
