/**
 * Realtime bridge configuration: every knob with its default in one place,
 * overridable from the environment (names in .env.example).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError, field, parseEnv, type EnvSource } from '@voice/config';
import { MEDIA_LINK_DEFAULTS } from '@voice/media-link';
import { BRIDGE_REGISTRY_DEFAULTS, CALL_META_TTL_SECONDS } from '@voice/redis';

export const BRIDGE_DEFAULTS = {
  port: 3002,
  openaiBaseUrl: 'https://api.openai.com/v1',
  openaiModel: 'gpt-realtime',
  /** One connect attempt may take this long before it is abandoned. */
  openaiConnectTimeoutMs: 8000,
  openaiConnectAttempts: 3,
  /**
   * The caller-facing limit on connecting, retries included (call/connect-deadline.ts): from START
   * (or from a mid-call drop) to a ready model session; then the fallback plays. An attempt never
   * runs past it.
   */
  openaiConnectDeadlineMs: 10_000,
  /** Back-off before retry n is n * this (linear: the caller is waiting). */
  openaiRetryBackoffMs: 250,
  /** How long to wait for the prebuilt prompt before building it from the database. */
  promptWaitMs: 400,
  promptPollMs: 25,
  /**
   * Ownership lease on a call; renewed at a third of it while the call lives (one PEXPIRE per call
   * per renewal). It only matters for a warm session whose bridge died before START: hand-overs
   * of live calls go by the gateway's word (its link died), not by the lease running out.
   */
  ownerLeaseMs: 30_000,
  /**
   * Every live call's meta (written once by the webhook with CALL_META_TTL_SECONDS, 2 h) gets that
   * TTL again this often, so a call longer than 2 h can still come back through <Connect action>.
   */
  callMetaRefreshMs: 30 * 60 * 1000,
  /** Claims older than this belong to calls that are long gone. */
  claimMaxAgeMs: 60_000,
  /**
   * A prebuilt (warm) claim read this late sat in the stream while every bridge was full: the
   * call has started or failed by now, and a warm session for it would only hold a slot.
   */
  warmClaimMaxAgeMs: 10_000,
  /** How long a gateway waits for a bridge to answer its started claim (the gateway's CLAIM_TIMEOUT_MS): older ones are skipped. */
  claimTimeoutMs: 1500,
  /** Server VAD tuning sent in session.update. */
  vadThreshold: 0.5,
  vadPrefixPaddingMs: 300,
  vadSilenceDurationMs: 500,
  /** Added to what the caller provably heard when truncating on barge-in (mark round trip). */
  bargeInMarginMs: 60,
  /**
   * Keys pressed in a row are one entry (an account number, a date) when each comes within this
   * long of the last; `#` ends an entry at once. The model hears the whole entry, once. 0: every
   * key on its own (a menu that is never more than one key answers without the wait).
   */
  dtmfEntryGapMs: 1500,
  drainTimeoutMs: 20_000,
  /**
   * Shutting down, the bridge asks the gateway to move each live call to another bridge; a call
   * still here (no bridge had room) is asked again this often, until DRAIN_TIMEOUT_MS.
   */
  handoverRetryMs: 1000,
  /**
   * A call is moved between the agent's replies, outside a running tool and a keypad entry being
   * typed (a switch would cut or split them); one still busy this long after the first ask is moved anyway
   * (an open keypad entry then moves with the call, whole: see MoveRequest).
   */
  handoverReplyWaitMs: 4000,
  /** How often a call waiting for its agent's reply (tool, keypad entry) to end is looked at again (not an env var). */
  handoverReplyCheckMs: 200,
  /** No model audio this long after START, or into a tool run: the gateway plays the hold clip ("one moment please"). */
  holdAudioAfterMs: 1200,
  /** A model that drops mid-call gets this many attempts, each this long, before the caller is sent to the fallback. */
  reconnectAttempts: 2,
  reconnectTimeoutMs: 3000,
  /**
   * Twilio REST requests that act on a live call (the fallback's transfer, the agent's hangup and
   * transfer) give up after this long: the caller is waiting (on the hold clip for a transfer).
   * The twilio SDK's own default is 30 s. Then the spoken fallback, or closing the stream, runs.
   */
  callControlTimeoutMs: 3000,
  /** A response that started but sent no audio for this long is a silent failure. */
  silentResponseMs: 5000,
  /**
   * How long a tool (a booking, a transfer's number lookup) may take while the caller waits in
   * silence; then the model is told it was not done (a booking's insert is cancelled by Postgres).
   * A normal booking takes milliseconds. Kept under HANDOVER_REPLY_WAIT_MS, so a bridge shutting
   * down never moves a call away from a tool still running.
   */
  toolTimeoutMs: 3000,
  /** Open and configure the model session (and pre-generate the greeting) when the prebuild job runs. */
  warmSessionsEnabled: true,
  /** A warm session whose call never STARTs is closed after this long. */
  warmSessionTtlMs: 30_000,
  /**
   * An outbound call may end unanswered (busy, no-answer) while its warm session waits: the
   * webhook then deletes its meta. The warm session checks for that this often (one EXISTS per
   * check, outbound calls only, only while ringing) instead of holding a slot until the TTL.
   */
  outboundWarmCheckMs: 1000,
  /** How often this bridge reports itself to the registry (link address, load); three missed reports make it dead. */
  heartbeatMs: 1000,
  /** Where this bridge's media link listens (internal only: gateways dial it). */
  mediaLinkPort: 3003,
  /**
   * Live calls one bridge takes (warm sessions included). Measured with `npm run bench` on this
   * project's 2-core machine (2026-12-02): at 100 concurrent calls one bridge process uses about
   * 0.3 of a core (0.17 CPU s per call-minute) and the latency targets hold (warm greeting p95
   * 45 ms, added p99 +6 ms); at 200 the machine (gateway, webhook, Redis and the load generator
   * on the same 2 cores) is saturated and greetings queue. Raise it on a bridge with a core of its own.
   */
  maxCalls: 100,
  /** A call whose gateway vanished keeps its model session this long for the stream to come back through another gateway. */
  gatewayReattachGraceMs: 5000,
  /** After answering a gateway's claim, how long to wait for that gateway's media link (it dials bridges it learns of within a second). */
  linkWaitMs: 2000,
  /** Records held for a caller while no gateway is attached (a warm greeting): ~60 s of model deltas. */
  maxHeldRecords: 3000,
  /** Caller frames held while no model session can take them: 30 s is more than any setup budget. */
  maxPendingCallerFrames: 1500,
  /** Caller turns come from input transcription (the conversation record and the transcript); TRANSCRIPTION_OFF turns it off. */
  inputTranscriptionModel: 'gpt-4o-mini-transcribe',
  /** The Realtime API ends a session after 60 minutes (PROTOCOLS §4). */
  sessionMaxMs: 60 * 60 * 1000,
  /** A session this close to its limit is recycled at the next quiet moment (enough to wait out a long turn). */
  sessionRecycleMarginMs: 3 * 60 * 1000,
  /** While a recycle waits for a quiet moment (no response, caller silent, agent audio played out), it looks this often. */
  sessionRecycleCheckMs: 100,
  /** A next session that could not be prepared is tried again after this long. */
  sessionRecycleRetryMs: 1000,
  /** A recycle waits this long at most for a caller turn's transcript (it goes on the record before the swap). */
  sessionRecycleTranscriptWaitMs: 5000,
  /** Replayed into a new session: the most recent conversation items (older ones are dropped first). */
  replayMaxItems: 200,
  /**
   * Prices in US dollars per 1M tokens, for the call's cost_usd: OpenAI's list prices for
   * gpt-realtime as of 2026-12-06 (https://developers.openai.com/api/docs/models/gpt-realtime-1.5).
   */
  pricesPer1M: {
    audioInput: 32.0,
    audioInputCached: 0.4,
    audioOutput: 64.0,
    textInput: 4.0,
    textInputCached: 0.4,
    textOutput: 16.0,
  },
} as const;

/**
 * Calls sent to the fallback at the drain deadline (no bridge took them) are given this long to end:
 * the fallback clip (2.3 s) plays out, Twilio echoes its mark, the gateway closes the stream and its
 * stop reaches this bridge, which writes the call's row with its transcript and cost. Closing the
 * links sooner leaves the gateway to finish the call without them. Fits the deployments' stop
 * grace periods (infra/k8s: 45 s for preStop 5 + DRAIN_TIMEOUT_MS 20 + this).
 */
export const SHUTDOWN_FALLBACK_WAIT_MS = 6000;

/** INPUT_TRANSCRIPTION_MODEL value that turns input transcription off (an empty variable means "the default"). */
export const TRANSCRIPTION_OFF = 'none';

export function loadBridgeConfig(env: EnvSource) {
  const e = parseEnv(
    {
      BRIDGE_PORT: field.port(BRIDGE_DEFAULTS.port),
      REDIS_URL: field.redisUrl(),
      REDIS_CLUSTER_NODES: field.redisClusterNodes(),
      DATABASE_URL: field.databaseUrl(),
      REDIS_NAMESPACE: field.namespace(),
      OPENAI_API_KEY: field.requiredString(),
      OPENAI_BASE_URL: field.httpUrl(BRIDGE_DEFAULTS.openaiBaseUrl),
      OPENAI_REALTIME_MODEL: field.string(BRIDGE_DEFAULTS.openaiModel),
      OPENAI_CA_CERT_FILE: field.optionalString(),
      OPENAI_CONNECT_TIMEOUT_MS: field.positiveInt(BRIDGE_DEFAULTS.openaiConnectTimeoutMs),
      OPENAI_CONNECT_ATTEMPTS: field.positiveInt(BRIDGE_DEFAULTS.openaiConnectAttempts),
      OPENAI_CONNECT_DEADLINE_MS: field.positiveInt(BRIDGE_DEFAULTS.openaiConnectDeadlineMs),
      OPENAI_RETRY_BACKOFF_MS: field.int(BRIDGE_DEFAULTS.openaiRetryBackoffMs),
      PROMPT_WAIT_MS: field.int(BRIDGE_DEFAULTS.promptWaitMs),
      OWNER_LEASE_MS: field.positiveInt(BRIDGE_DEFAULTS.ownerLeaseMs),
      CALL_META_REFRESH_MS: field.positiveInt(BRIDGE_DEFAULTS.callMetaRefreshMs),
      CLAIM_MAX_AGE_MS: field.positiveInt(BRIDGE_DEFAULTS.claimMaxAgeMs),
      VAD_THRESHOLD: field.number(BRIDGE_DEFAULTS.vadThreshold),
      VAD_PREFIX_PADDING_MS: field.int(BRIDGE_DEFAULTS.vadPrefixPaddingMs),
      VAD_SILENCE_DURATION_MS: field.int(BRIDGE_DEFAULTS.vadSilenceDurationMs),
      BARGE_IN_MARGIN_MS: field.int(BRIDGE_DEFAULTS.bargeInMarginMs),
      DTMF_ENTRY_GAP_MS: field.int(BRIDGE_DEFAULTS.dtmfEntryGapMs),
      DRAIN_TIMEOUT_MS: field.int(BRIDGE_DEFAULTS.drainTimeoutMs),
      HANDOVER_RETRY_MS: field.positiveInt(BRIDGE_DEFAULTS.handoverRetryMs),
      HANDOVER_REPLY_WAIT_MS: field.int(BRIDGE_DEFAULTS.handoverReplyWaitMs),
      HOLD_AUDIO_AFTER_MS: field.int(BRIDGE_DEFAULTS.holdAudioAfterMs),
      RECONNECT_ATTEMPTS: field.int(BRIDGE_DEFAULTS.reconnectAttempts),
      RECONNECT_TIMEOUT_MS: field.positiveInt(BRIDGE_DEFAULTS.reconnectTimeoutMs),
      SILENT_RESPONSE_MS: field.positiveInt(BRIDGE_DEFAULTS.silentResponseMs),
      TOOL_TIMEOUT_MS: field.positiveInt(BRIDGE_DEFAULTS.toolTimeoutMs),
      CLAIM_TIMEOUT_MS: field.positiveInt(BRIDGE_DEFAULTS.claimTimeoutMs),
      WARM_SESSIONS_ENABLED: field.bool(BRIDGE_DEFAULTS.warmSessionsEnabled),
      WARM_SESSION_TTL_MS: field.positiveInt(BRIDGE_DEFAULTS.warmSessionTtlMs),
      HEARTBEAT_MS: field.positiveInt(BRIDGE_DEFAULTS.heartbeatMs),
      MEDIA_LINK_SECRET: field.secret(),
      MEDIA_LINK_PORT: field.port(BRIDGE_DEFAULTS.mediaLinkPort),
      MEDIA_LINK_HOST: field.string(hostname()),
      MEDIA_LINK_PING_MS: field.positiveInt(MEDIA_LINK_DEFAULTS.pingIntervalMs),
      MEDIA_LINK_DEAD_MS: field.positiveInt(MEDIA_LINK_DEFAULTS.deadAfterMs),
      MEDIA_LINK_COALESCE_MS: field.int(MEDIA_LINK_DEFAULTS.coalesceMs),
      BRIDGE_MAX_CALLS: field.positiveInt(BRIDGE_DEFAULTS.maxCalls),
      GATEWAY_REATTACH_GRACE_MS: field.int(BRIDGE_DEFAULTS.gatewayReattachGraceMs),
      INPUT_TRANSCRIPTION_MODEL: field.string(BRIDGE_DEFAULTS.inputTranscriptionModel),
      SESSION_MAX_MS: field.positiveInt(BRIDGE_DEFAULTS.sessionMaxMs),
      SESSION_RECYCLE_MARGIN_MS: field.int(BRIDGE_DEFAULTS.sessionRecycleMarginMs),
      PRICE_AUDIO_INPUT_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.audioInput),
      PRICE_AUDIO_INPUT_CACHED_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.audioInputCached),
      PRICE_AUDIO_OUTPUT_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.audioOutput),
      PRICE_TEXT_INPUT_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.textInput),
      PRICE_TEXT_INPUT_CACHED_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.textInputCached),
      PRICE_TEXT_OUTPUT_PER_1M: field.number(BRIDGE_DEFAULTS.pricesPer1M.textOutput),
      TWILIO_ACCOUNT_SID: field.optionalString(),
      TWILIO_AUTH_TOKEN: field.optionalString(),
      TWILIO_API_BASE_URL: field.httpUrl('https://api.twilio.com'),
      CALL_CONTROL_TIMEOUT_MS: field.positiveInt(BRIDGE_DEFAULTS.callControlTimeoutMs),
      FALLBACK_TRANSFER_NUMBER: field.optionalString(),
      LOG_LEVEL: field.logLevel(),
      INSTANCE_ID: field.instanceId('bridge'),
    },
    env,
  );
  if (e.MEDIA_LINK_DEAD_MS <= e.MEDIA_LINK_PING_MS) {
    throw new ConfigError(
      'MEDIA_LINK_DEAD_MS',
      `(${e.MEDIA_LINK_DEAD_MS}) must be more than MEDIA_LINK_PING_MS (${e.MEDIA_LINK_PING_MS})`,
    );
  }
  if (e.CALL_META_REFRESH_MS >= CALL_META_TTL_SECONDS * 1000) {
    throw new ConfigError(
      'CALL_META_REFRESH_MS',
      `(${e.CALL_META_REFRESH_MS}) must be less than the call meta's TTL (${CALL_META_TTL_SECONDS * 1000} ms)`,
    );
  }
  if (e.SESSION_RECYCLE_MARGIN_MS >= e.SESSION_MAX_MS) {
    throw new ConfigError(
      'SESSION_RECYCLE_MARGIN_MS',
      `(${e.SESSION_RECYCLE_MARGIN_MS}) must be less than SESSION_MAX_MS (${e.SESSION_MAX_MS})`,
    );
  }
  if (e.FALLBACK_TRANSFER_NUMBER && !(e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN)) {
    throw new ConfigError(
      'FALLBACK_TRANSFER_NUMBER',
      'needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to redirect the call',
    );
  }
  return {
    port: e.BRIDGE_PORT,
    redis: { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES },
    databaseUrl: e.DATABASE_URL,
    namespace: e.REDIS_NAMESPACE,
    logLevel: e.LOG_LEVEL,
    instanceId: e.INSTANCE_ID,
    drainTimeoutMs: e.DRAIN_TIMEOUT_MS,
    handover: {
      retryMs: e.HANDOVER_RETRY_MS,
      replyWaitMs: e.HANDOVER_REPLY_WAIT_MS,
      replyCheckMs: BRIDGE_DEFAULTS.handoverReplyCheckMs,
    },
    heartbeatMs: e.HEARTBEAT_MS,
    /** A registry report older than this is a dead bridge's. */
    registryStaleMs: e.HEARTBEAT_MS * BRIDGE_REGISTRY_DEFAULTS.staleAfterBeats,
    warmSessionsEnabled: e.WARM_SESSIONS_ENABLED,
    maxCalls: e.BRIDGE_MAX_CALLS,
    link: {
      secret: e.MEDIA_LINK_SECRET,
      port: e.MEDIA_LINK_PORT,
      host: e.MEDIA_LINK_HOST,
      timings: {
        pingIntervalMs: e.MEDIA_LINK_PING_MS,
        deadAfterMs: e.MEDIA_LINK_DEAD_MS,
        coalesceMs: e.MEDIA_LINK_COALESCE_MS,
      },
      waitMs: BRIDGE_DEFAULTS.linkWaitMs,
    },
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseURL: e.OPENAI_BASE_URL,
      model: e.OPENAI_REALTIME_MODEL,
      ca: e.OPENAI_CA_CERT_FILE ? readCa(e.OPENAI_CA_CERT_FILE) : undefined,
      connectTimeoutMs: e.OPENAI_CONNECT_TIMEOUT_MS,
      connectAttempts: e.OPENAI_CONNECT_ATTEMPTS,
      connectDeadlineMs: e.OPENAI_CONNECT_DEADLINE_MS,
      retryBackoffMs: e.OPENAI_RETRY_BACKOFF_MS,
    },
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN,
      apiBaseUrl: e.TWILIO_API_BASE_URL,
      timeoutMs: e.CALL_CONTROL_TIMEOUT_MS,
    },
    call: {
      warmSessionTtlMs: e.WARM_SESSION_TTL_MS,
      holdAudioAfterMs: e.HOLD_AUDIO_AFTER_MS,
      reconnectAttempts: e.RECONNECT_ATTEMPTS,
      reconnectTimeoutMs: e.RECONNECT_TIMEOUT_MS,
      silentResponseMs: e.SILENT_RESPONSE_MS,
      toolTimeoutMs: e.TOOL_TIMEOUT_MS,
      /** When set, a call the model cannot serve is transferred here (REST redirect) instead of hearing the spoken fallback. */
      fallbackTransferNumber: e.FALLBACK_TRANSFER_NUMBER,
      promptWaitMs: e.PROMPT_WAIT_MS,
      promptPollMs: BRIDGE_DEFAULTS.promptPollMs,
      outboundWarmCheckMs: BRIDGE_DEFAULTS.outboundWarmCheckMs,
      ownerLeaseMs: e.OWNER_LEASE_MS,
      metaRefreshMs: e.CALL_META_REFRESH_MS,
      claimMaxAgeMs: e.CLAIM_MAX_AGE_MS,
      warmClaimMaxAgeMs: BRIDGE_DEFAULTS.warmClaimMaxAgeMs,
      claimTimeoutMs: e.CLAIM_TIMEOUT_MS,
      gatewayReattachGraceMs: e.GATEWAY_REATTACH_GRACE_MS,
      maxHeldRecords: BRIDGE_DEFAULTS.maxHeldRecords,
      maxPendingCallerFrames: BRIDGE_DEFAULTS.maxPendingCallerFrames,
      bargeInMarginMs: e.BARGE_IN_MARGIN_MS,
      dtmfEntryGapMs: e.DTMF_ENTRY_GAP_MS,
      /** '' when off. */
      inputTranscriptionModel: e.INPUT_TRANSCRIPTION_MODEL === TRANSCRIPTION_OFF ? '' : e.INPUT_TRANSCRIPTION_MODEL,
      session: {
        maxMs: e.SESSION_MAX_MS,
        recycleMarginMs: e.SESSION_RECYCLE_MARGIN_MS,
        recycleCheckMs: BRIDGE_DEFAULTS.sessionRecycleCheckMs,
        recycleRetryMs: BRIDGE_DEFAULTS.sessionRecycleRetryMs,
        transcriptWaitMs: BRIDGE_DEFAULTS.sessionRecycleTranscriptWaitMs,
        replayMaxItems: BRIDGE_DEFAULTS.replayMaxItems,
      },
      pricesPer1M: {
        audioInput: e.PRICE_AUDIO_INPUT_PER_1M,
        audioInputCached: e.PRICE_AUDIO_INPUT_CACHED_PER_1M,
        audioOutput: e.PRICE_AUDIO_OUTPUT_PER_1M,
        textInput: e.PRICE_TEXT_INPUT_PER_1M,
        textInputCached: e.PRICE_TEXT_INPUT_CACHED_PER_1M,
        textOutput: e.PRICE_TEXT_OUTPUT_PER_1M,
      },
      vad: {
        threshold: e.VAD_THRESHOLD,
        prefixPaddingMs: e.VAD_PREFIX_PADDING_MS,
        silenceDurationMs: e.VAD_SILENCE_DURATION_MS,
      },
    },
  };
}

export type BridgeConfig = ReturnType<typeof loadBridgeConfig>;
export type OpenAIConfig = BridgeConfig['openai'];
export type CallConfig = BridgeConfig['call'];
export type TwilioRestConfig = BridgeConfig['twilio'];
export type TokenPrices = CallConfig['pricesPer1M'];

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('OPENAI_CA_CERT_FILE', `cannot be read (${(err as Error).message})`);
  }
}
