/** Webhook configuration: every knob with its default here, overridable from the environment. */
import { ConfigError, field, parseEnv, type EnvSource } from '@voice/config';
import { BRIDGE_REGISTRY_DEFAULTS, type RedisEndpoint } from '@voice/redis';

export const WEBHOOK_DEFAULTS = {
  port: 3000,
  /** The prebuilt prompt only has to outlive the gap between webhook and START (seconds). */
  promptTtlSeconds: 600,
  callTokenTtlSeconds: 600,
  prebuildConcurrency: 20,
  prebuildAttempts: 3,
  prebuildBackoffMs: 100,
  fallbackMessage: 'Sorry, our assistant is not available right now. Please call again in a few minutes. Goodbye.',
  unknownNumberMessage: 'Sorry, this number is not in service. Goodbye.',
  drainTimeoutMs: 10_000,
  /** Twilio opens the media stream within a few seconds of our TwiML; after this long it never will. */
  streamWatchdogMs: 15_000,
  /** How often the watchdog looks for answered calls whose stream never started. */
  streamWatchdogSweepMs: 2000,
  twilioApiBaseUrl: 'https://api.twilio.com',
  /**
   * Seconds Twilio lets an outbound call ring before no-answer (Twilio's own default is 60). Kept
   * under the bridge's WARM_SESSION_TTL_MS (30 s) so the session warmed at placement is still
   * there when the callee answers; a longer ring falls back to a cold start, not a failure.
   */
  outboundRingTimeoutSeconds: 25,
  /** Twilio's MachineDetectionTimeout (seconds): how long AMD listens before answering `unknown`. */
  machineDetectionTimeoutSeconds: 30,
  /** How long POST /calls waits for Twilio's REST API before 502. */
  twilioRestTimeoutMs: 10_000,
  /**
   * How many times <Connect action> gives one call a fresh stream after its gateway went away. A
   * rolling deploy moves a call once per gateway restarted; more than this is a loop (e.g. no
   * gateway takes streams at all), and the caller hears the fallback instead.
   */
  maxStreamReconnects: 5,
  /**
   * The longest the voice webhook waits on Redis, BullMQ and Postgres before it answers with the spoken
   * fallback instead: Twilio gives up on a slow webhook with its error tone, never our message.
   */
  answerTimeoutMs: 1500,
  /**
   * With Redis not connected, how long the voice webhook waits for the connection to come back
   * before it answers with the fallback: about one reconnect attempt, so a call that arrives just
   * as a restarted Redis comes back is connected, and one during an outage hears the fallback fast.
   */
  redisReadyWaitMs: 600,
  /** Bridges report to the registry this often (their HEARTBEAT_MS); the webhook reads that registry for room. */
  bridgeHeartbeatMs: 1000,
  /**
   * POST /calls with no room on any bridge answers 503 with this Retry-After: about the time a
   * few calls take to end, so a dialer backs off instead of hammering.
   */
  outboundNoRoomRetryAfterSeconds: 5,
  /** A reservation for a placed call outlives the ring by this much before it is dropped as lost. */
  outboundReservationSlackSeconds: 30,
  /** How often the webhook asks Twilio about outbound calls still `placed` long after any ring (lost callbacks). */
  placedCallSweepMs: 30_000,
  /** A call still `placed` this long after its ring timeout lost its status callbacks. */
  placedCallStaleSlackSeconds: 60,
} as const;

/** A bearer token short enough to guess is no protection. */
const MIN_API_TOKEN_CHARS = 16;

export function loadWebhookConfig(env: EnvSource) {
  const e = parseEnv(
    {
      WEBHOOK_PORT: field.port(WEBHOOK_DEFAULTS.port),
      REDIS_URL: field.redisUrl(),
      REDIS_CLUSTER_NODES: field.redisClusterNodes(),
      DATABASE_URL: field.databaseUrl(),
      REDIS_NAMESPACE: field.namespace(),
      PUBLIC_BASE_URL: field.httpsUrl(),
      PUBLIC_STREAM_URL: field.wssUrl(),
      TWILIO_AUTH_TOKEN: field.requiredString(),
      PROMPT_TTL_SECONDS: field.positiveInt(WEBHOOK_DEFAULTS.promptTtlSeconds),
      CALL_TOKEN_TTL_SECONDS: field.positiveInt(WEBHOOK_DEFAULTS.callTokenTtlSeconds),
      PREBUILD_CONCURRENCY: field.positiveInt(WEBHOOK_DEFAULTS.prebuildConcurrency),
      PREBUILD_ATTEMPTS: field.positiveInt(WEBHOOK_DEFAULTS.prebuildAttempts),
      PREBUILD_WORKER_ENABLED: field.bool(true),
      FALLBACK_MESSAGE: field.string(WEBHOOK_DEFAULTS.fallbackMessage),
      UNKNOWN_NUMBER_MESSAGE: field.string(WEBHOOK_DEFAULTS.unknownNumberMessage),
      DRAIN_TIMEOUT_MS: field.int(WEBHOOK_DEFAULTS.drainTimeoutMs),
      WARM_SESSIONS_ENABLED: field.bool(true),
      STREAM_WATCHDOG_MS: field.positiveInt(WEBHOOK_DEFAULTS.streamWatchdogMs),
      STREAM_WATCHDOG_SWEEP_MS: field.positiveInt(WEBHOOK_DEFAULTS.streamWatchdogSweepMs),
      LOG_LEVEL: field.logLevel(),
      INSTANCE_ID: field.instanceId('webhook'),
      API_TOKEN: field.optionalString(),
      TWILIO_ACCOUNT_SID: field.optionalString(),
      TWILIO_API_BASE_URL: field.httpUrl(WEBHOOK_DEFAULTS.twilioApiBaseUrl),
      OUTBOUND_RING_TIMEOUT_SECONDS: field.positiveInt(WEBHOOK_DEFAULTS.outboundRingTimeoutSeconds),
      MACHINE_DETECTION_TIMEOUT_SECONDS: field.positiveInt(WEBHOOK_DEFAULTS.machineDetectionTimeoutSeconds),
      TWILIO_REST_TIMEOUT_MS: field.positiveInt(WEBHOOK_DEFAULTS.twilioRestTimeoutMs),
      VOICEMAIL_SAY_VOICE: field.optionalString(),
      STREAM_RECONNECTS_MAX: field.positiveInt(WEBHOOK_DEFAULTS.maxStreamReconnects),
      VOICE_ANSWER_TIMEOUT_MS: field.positiveInt(WEBHOOK_DEFAULTS.answerTimeoutMs),
      VOICE_REDIS_READY_WAIT_MS: field.int(WEBHOOK_DEFAULTS.redisReadyWaitMs),
      HEARTBEAT_MS: field.positiveInt(WEBHOOK_DEFAULTS.bridgeHeartbeatMs),
      OUTBOUND_REQUIRE_ROOM: field.bool(true),
      OUTBOUND_NO_ROOM_RETRY_AFTER_SECONDS: field.positiveInt(WEBHOOK_DEFAULTS.outboundNoRoomRetryAfterSeconds),
      PLACED_CALL_SWEEP_MS: field.positiveInt(WEBHOOK_DEFAULTS.placedCallSweepMs),
      /** Unset: the ring timeout plus placedCallStaleSlackSeconds. */
      PLACED_CALL_STALE_MS: field.optionalPositiveInt(),
    },
    env,
  );
  if (e.API_TOKEN !== undefined && e.API_TOKEN.length < MIN_API_TOKEN_CHARS) {
    throw new ConfigError(
      'API_TOKEN',
      `must be at least ${MIN_API_TOKEN_CHARS} characters (e.g. openssl rand -hex 32)`,
    );
  }
  if (e.API_TOKEN && !e.TWILIO_ACCOUNT_SID) {
    throw new ConfigError(
      'TWILIO_ACCOUNT_SID',
      'is required with API_TOKEN: outbound calls are placed through the Twilio REST API',
    );
  }
  // REDIS_CLUSTER_NODES, when set, wins over REDIS_URL (see createRedis).
  const redis: RedisEndpoint = { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES };
  return {
    port: e.WEBHOOK_PORT,
    redis,
    databaseUrl: e.DATABASE_URL,
    namespace: e.REDIS_NAMESPACE,
    /** Origin (and optional path prefix) Twilio uses to reach this service; signatures are computed on it. */
    publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    publicStreamUrl: e.PUBLIC_STREAM_URL.replace(/\/+$/, ''),
    twilioAuthToken: e.TWILIO_AUTH_TOKEN,
    promptTtlSeconds: e.PROMPT_TTL_SECONDS,
    callTokenTtlSeconds: e.CALL_TOKEN_TTL_SECONDS,
    prebuild: {
      concurrency: e.PREBUILD_CONCURRENCY,
      attempts: e.PREBUILD_ATTEMPTS,
      backoffMs: WEBHOOK_DEFAULTS.prebuildBackoffMs,
      workerEnabled: e.PREBUILD_WORKER_ENABLED,
      /** After the prompt is written, offer the call to the bridges so one can warm a model session before START. */
      warmSessions: e.WARM_SESSIONS_ENABLED,
    },
    messages: { fallback: e.FALLBACK_MESSAGE, unknownNumber: e.UNKNOWN_NUMBER_MESSAGE },
    /** Redis down or this slow: the voice webhook answers with the spoken fallback (routes/voice-webhook.ts). */
    answerTimeoutMs: e.VOICE_ANSWER_TIMEOUT_MS,
    redisReadyWaitMs: e.VOICE_REDIS_READY_WAIT_MS,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    streamWatchdogMs: e.STREAM_WATCHDOG_MS,
    streamWatchdogSweepMs: e.STREAM_WATCHDOG_SWEEP_MS,
    maxStreamReconnects: e.STREAM_RECONNECTS_MAX,
    logLevel: e.LOG_LEVEL,
    instanceId: e.INSTANCE_ID,
    /** The business API (POST /calls); undefined: API_TOKEN unset, outbound calls are off (503). */
    outbound: e.API_TOKEN
      ? {
          apiToken: e.API_TOKEN,
          twilio: {
            accountSid: e.TWILIO_ACCOUNT_SID!,
            authToken: e.TWILIO_AUTH_TOKEN,
            apiBaseUrl: e.TWILIO_API_BASE_URL,
            timeoutMs: e.TWILIO_REST_TIMEOUT_MS,
          },
          ringTimeoutSeconds: e.OUTBOUND_RING_TIMEOUT_SECONDS,
          machineDetectionTimeoutSeconds: e.MACHINE_DETECTION_TIMEOUT_SECONDS,
          /** Twilio <Say> voice for the voicemail message (e.g. Polly.Joanna-Neural); unset: Twilio's default. */
          voicemailVoice: e.VOICEMAIL_SAY_VOICE,
          /**
           * Place a call only into room a bridge reported (outbound/place-call.ts); undefined: dial
           * whatever the load (OUTBOUND_REQUIRE_ROOM=false), and a callee may answer to the busy message.
           */
          room: e.OUTBOUND_REQUIRE_ROOM
            ? {
                registryStaleMs: e.HEARTBEAT_MS * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
                maxAgeMs: (e.OUTBOUND_RING_TIMEOUT_SECONDS + WEBHOOK_DEFAULTS.outboundReservationSlackSeconds) * 1000,
                retryAfterSeconds: e.OUTBOUND_NO_ROOM_RETRY_AFTER_SECONDS,
              }
            : undefined,
          /** Calls whose status callbacks were lost are asked about (outbound/placed-call-sweeper.ts). */
          placedSweep: {
            sweepMs: e.PLACED_CALL_SWEEP_MS,
            staleAfterMs:
              e.PLACED_CALL_STALE_MS ??
              (e.OUTBOUND_RING_TIMEOUT_SECONDS + WEBHOOK_DEFAULTS.placedCallStaleSlackSeconds) * 1000,
          },
        }
      : undefined,
  };
}

export type WebhookConfig = ReturnType<typeof loadWebhookConfig>;
