/**
 * The end of a call, written once by the bridge that owns it: `call.ended`,
 * `call.silent_failure` when the caller heard nothing, or `call.abandoned` when
 * the caller hung up on the hold clip during setup (call-outcome.ts decides),
 * `call.metrics`, the calls row in Postgres (with the transcript, token usage
 * and cost from the conversation record), Prometheus, and the call's transient
 * Redis keys deleted (the timeline and the conversation record stay, with TTLs,
 * for on-call).
 */
import { writeCallRow, type CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { transientCallKeys, type RedisClient, type Timeline } from '@voice/redis';
import type { TokenPrices } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { CALLER_ABANDONED, abandonedStage, silentFailureReason, type StopEntry } from './call-outcome.js';
import { callMetrics, type CallStats } from './call-stats.js';
import { callOutcome } from './call-transcript.js';
import type { ConversationRecord } from './conversation-record.js';

export type { StopEntry } from './call-outcome.js';

export interface FinalizeDeps {
  redis: RedisClient;
  timeline: Timeline;
  calls: CallRepository;
  metrics: BridgeMetrics;
  logger: Logger;
  instanceId: string;
  config: { pricesPer1M: TokenPrices };
}

export async function finalizeCall(
  deps: FinalizeDeps,
  callSid: string,
  stats: CallStats,
  stop: StopEntry,
  conversation: ConversationRecord,
): Promise<void> {
  const metrics = callMetrics(stats, stop.firstAudioAt);
  const outcome = await callOutcome(deps, callSid, conversation, deps.config.pricesPer1M);
  const { responses, ...tokens } = outcome.usage;
  // A string: the timeline rounds numbers to 0.1, and a call costs cents.
  const usageFields = { sessions: outcome.sessions, responses, ...tokens, cost_usd: outcome.costUsd.toFixed(6) };
  const abandoned = abandonedStage(stats, stop);
  const endReason = stats.fallbackReason
    ? `fallback:${stats.fallbackReason}`
    : abandoned
      ? CALLER_ABANDONED
      : (stats.agentEnded ?? stop.reason);
  const durationMs = stats.streamStartedAt ? Math.max(0, stop.endedAt - stats.streamStartedAt) : undefined;
  const silentReason = abandoned ? undefined : silentFailureReason(stats, stop);
  const silent = silentReason !== undefined;

  await deps.timeline.record(callSid, 'call.ended', {
    end_reason: endReason,
    rx: stop.rx,
    tx: stop.tx,
    is_ghost: false,
    duration_ms: durationMs,
  });
  if (abandoned) {
    deps.metrics.callsAbandoned.inc({ stage: abandoned });
    await deps.timeline.record(
      callSid,
      'call.abandoned',
      { stage: abandoned, hangup: stop.reason, waited_ms: durationMs, hold_clips: stats.holdClips, tx: stop.tx },
      { level: 'warn' },
    );
  }
  if (silent) {
    deps.metrics.silentFailures.inc({ reason: silentReason });
    await deps.timeline.record(
      callSid,
      'call.silent_failure',
      { reason: silentReason, end_reason: endReason, rx: stop.rx, tx: stop.tx },
      { level: 'error' },
    );
  }
  observe(deps.metrics, metrics, endReason);
  const row: CallRow = {
    endedAt: new Date(stop.endedAt),
    status: silent || stats.fallbackReason ? 'failed' : 'completed',
    endReason,
    rxFrames: stop.rx,
    txFrames: stop.tx,
    isGhost: false,
    silentFailure: silent,
    promptPath: stats.promptPath ?? null,
    openaiConnectMs: round(metrics.openai_connect_ms),
    firstGreetingAudioMs: round(metrics.first_greeting_audio_ms),
    metrics: { ...metrics, end_reason: endReason, tx_bytes: stop.txBytes, invalid_messages: stop.invalidMessages },
    bridgeInstance: deps.instanceId,
    usage: outcome.usage,
    costUsd: outcome.costUsd,
    transcript: outcome.transcript,
  };
  // The bridge's slot stays held for the few seconds the retries take.
  const written = await writeCallRow(() => deps.calls.recordEnded(callSid, row), {
    logger: deps.logger,
    retried: () => deps.metrics.callRecordRetries.inc(),
    failed: () => deps.metrics.callRecordFailures.inc(),
  });
  // Last checkpoint: once call.metrics is on the timeline, the call row is written too (or
  // call.record_failed before it says it could not be).
  if (!written.ok)
    await deps.timeline.record(
      callSid,
      'call.record_failed',
      { attempts: written.attempts, error: written.error },
      { level: 'error' },
    );
  await deps.timeline.record(callSid, 'call.metrics', { ...metrics, ...usageFields });
  await deps.redis.del(...transientCallKeys(callSid)).catch((err: unknown) => {
    deps.logger.error('call key cleanup failed', errorFields(err));
  });
}

type CallRow = Parameters<CallRepository['recordEnded']>[1];

function observe(m: BridgeMetrics, fields: ReturnType<typeof callMetrics>, endReason: string): void {
  m.callsEnded.inc({ end_reason: endReason.split(':')[0] });
  if (fields.openai_connect_ms !== undefined) m.openaiConnectMs.observe(fields.openai_connect_ms);
  if (fields.first_greeting_audio_ms !== undefined)
    m.firstGreetingAudioMs.observe({ path: fields.greeting_path ?? 'unknown' }, fields.first_greeting_audio_ms);
  const stages: Array<[string, number | undefined]> = [
    ['connect', fields.connect_ms],
    ['wait_prompt', fields.wait_prompt_ms],
    ['configure', fields.configure_ms],
    ['model_first_audio', fields.model_first_audio_ms],
    ['total', fields.total_ms],
  ];
  for (const [stage, value] of stages) if (value !== undefined) m.setupStageMs.observe({ stage }, value);
}

const round = (v?: number) => (v === undefined ? null : Math.round(v));
