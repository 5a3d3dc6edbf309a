import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '@voice/runtime';

export function createBridgeMetrics(registry: Registry) {
  const registers = [registry];
  return {
    callsActive: new Gauge({ name: 'bridge_calls_active', help: 'Calls this bridge owns now', registers }),
    load: new Gauge({
      name: 'bridge_load',
      help: 'Calls owned plus claims being set up: what admission counts against capacity',
      registers,
    }),
    capacity: new Gauge({
      name: 'bridge_capacity',
      help: 'Live calls this bridge takes (BRIDGE_MAX_CALLS)',
      registers,
    }),
    callsEnded: new Counter({
      name: 'bridge_calls_ended_total',
      help: 'Calls finalized, by end reason',
      labelNames: ['end_reason'],
      registers,
    }),
    openaiConnectMs: new Histogram({
      name: 'openai_connect_ms',
      help: 'Realtime session connect time (ms), retries included',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    firstGreetingAudioMs: new Histogram({
      name: 'first_greeting_audio_ms',
      help: 'START to first greeting audio sent to the caller (ms)',
      labelNames: ['path'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    setupStageMs: new Histogram({
      name: 'bridge_call_setup_stage_ms',
      help: 'Call setup breakdown (ms) by stage',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    connectRetries: new Counter({
      name: 'openai_connect_retries_total',
      help: 'Realtime connect attempts that were retried',
      labelNames: ['reason'],
      registers,
    }),
    connectFailures: new Counter({
      name: 'openai_connect_failures_total',
      help: 'Calls whose Realtime session could not be opened',
      labelNames: ['reason'],
      registers,
    }),
    fallbacks: new Counter({
      name: 'realtime_fallbacks_total',
      help: 'Calls sent to the fallback',
      labelNames: ['reason'],
      registers,
    }),
    silentFailures: new Counter({
      name: 'call_silent_failures_total',
      help: 'Real calls in which the caller was left in silence, by reason (no_audio_sent, no_model_audio, response_without_audio)',
      labelNames: ['reason'],
      registers,
    }),
    callsAbandoned: new Counter({
      name: 'bridge_calls_abandoned_total',
      help: 'Callers who hung up on the hold clip while the session was being set up, by setup stage',
      labelNames: ['stage'],
      registers,
    }),
    bargeIns: new Counter({ name: 'bridge_barge_ins_total', help: 'Caller interruptions handled', registers }),
    promptPath: new Counter({
      name: 'bridge_prompt_path_total',
      help: 'Sessions configured by prompt path',
      labelNames: ['path'],
      registers,
    }),
    rxFrames: new Counter({ name: 'bridge_rx_frames_total', help: 'Caller frames forwarded to the model', registers }),
    txDeltas: new Counter({
      name: 'bridge_tx_audio_deltas_total',
      help: 'Model audio deltas forwarded toward the caller',
      registers,
    }),
    warmExpired: new Counter({
      name: 'bridge_warm_sessions_expired_total',
      help: 'Warm sessions closed because the call never started, by reason (ttl, no_start)',
      labelNames: ['reason'],
      registers,
    }),
    claimsPassedOn: new Counter({
      name: 'bridge_claims_passed_on_total',
      help: 'Started claims put back on the stream because the claiming gateway had no link to this bridge yet',
      registers,
    }),
    invalidEntries: new Counter({
      name: 'bridge_invalid_claims_total',
      help: 'Malformed claim stream entries skipped',
      registers,
    }),
    toolCalls: new Counter({
      name: 'bridge_tool_calls_total',
      help: 'Tool calls by name and outcome',
      labelNames: ['name', 'ok'],
      registers,
    }),
    callRecordRetries: new Counter({
      name: 'bridge_call_record_retries_total',
      help: 'Calls rows that Postgres refused at the end of a call and were written again',
      registers,
    }),
    callRecordFailures: new Counter({
      name: 'bridge_call_record_failures_total',
      help: 'Calls rows not written after every retry (the call stays in_progress; call.record_failed on its timeline)',
      registers,
    }),
    toolTimeouts: new Counter({
      name: 'bridge_tool_timeouts_total',
      help: 'Tool calls not done by their deadline (TOOL_TIMEOUT_MS): the model was told so',
      labelNames: ['name'],
      registers,
    }),
  };
}

export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>;
