import { Counter, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '@voice/runtime';

export function createWebhookMetrics(registry: Registry) {
  const registers = [registry];
  return {
    voiceWebhooks: new Counter({
      name: 'webhook_voice_requests_total',
      help: 'Voice webhooks answered, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    rejected: new Counter({
      name: 'webhook_rejected_total',
      help: 'Requests refused before any work',
      labelNames: ['reason'],
      registers,
    }),
    answerMs: new Histogram({
      name: 'webhook_answer_ms',
      help: 'Time to answer the voice webhook with TwiML (ms)',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    prebuildMs: new Histogram({
      name: 'prebuild_job_ms',
      help: 'Prebuild job duration (ms)',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    streamNeverStarted: new Counter({
      name: 'webhook_stream_never_started_total',
      help: 'Answered calls whose media stream never started',
      registers,
    }),
    outboundCalls: new Counter({
      name: 'webhook_outbound_requests_total',
      help: 'POST /calls answered, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    placedCallSweeps: new Counter({
      name: 'webhook_placed_call_sweeps_total',
      help: 'Outbound calls still placed long after their ring, asked about at Twilio, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    connectActions: new Counter({
      name: 'webhook_connect_actions_total',
      help: '<Connect action> posts answered, by decision and reason',
      labelNames: ['decision', 'reason'],
      registers,
    }),
    promptCache: new Counter({
      name: 'prebuild_prompt_cache_total',
      help: 'Prebuilds by where the prompt came from: hit (the cached prompt of this business version), miss (a job was queued)',
      labelNames: ['result'],
      registers,
    }),
    prebuildFailures: new Counter({
      name: 'prebuild_failures_total',
      help: 'Prebuild job attempts that failed',
      registers,
    }),
    callRecordRetries: new Counter({
      name: 'webhook_call_record_retries_total',
      help: 'Calls rows of calls answered with the spoken fallback that Postgres refused and were written again',
      registers,
    }),
    callRecordFailures: new Counter({
      name: 'webhook_call_record_failures_total',
      help: 'Calls rows of calls answered with the spoken fallback not written after every retry (call.record_failed on the timeline)',
      registers,
    }),
  };
}

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
