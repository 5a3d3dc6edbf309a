/** The gateway's Prometheus metrics, registered on the service's own registry. */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '@voice/runtime';

/** Every kind of bad input the gateway recognises (a fixed set: it is a metric label). */
export const INVALID_KINDS = [
  'not_json',
  'binary',
  'unknown_event',
  'schema',
  'before_start',
  'duplicate_start',
  'bad_base64',
  'wrong_stream_sid',
  'oversize',
  'protocol_error',
  'flood',
  'start_backlog',
] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  const txMessages = new Counter({
    name: 'gateway_tx_messages_total',
    help: 'Messages sent to Twilio, by event',
    labelNames: ['event'],
    registers,
  });
  const invalidMessages = new Counter({
    name: 'gateway_invalid_messages_total',
    help: 'Bad input on media sockets, by kind (dropped; the socket stays open where it can)',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of INVALID_KINDS) invalidMessages.labels({ kind }).inc(0);
  return {
    openSockets: new Gauge({ name: 'gateway_open_sockets', help: 'Media WebSockets currently open', registers }),
    callsOrphaned: new Counter({
      name: 'gateway_calls_orphaned_total',
      help: "Live calls offered again because their bridge's media link died",
      registers,
    }),
    noCapacity: new Counter({
      name: 'gateway_no_capacity_total',
      help: 'Calls no bridge had room for (busy clip, then the TwiML fallback; realtime.fallback reason=NO_CAPACITY)',
      registers,
    }),
    streamsOverCap: new Counter({
      name: 'gateway_streams_over_cap_total',
      help: 'Media upgrades refused because this gateway holds GATEWAY_MAX_STREAMS sockets',
      registers,
    }),
    ghosts: new Counter({
      name: 'gateway_ghost_sockets_total',
      help: 'Sockets that sent nothing and never started (preflights); not failed calls',
      registers,
    }),
    noStart: new Counter({
      name: 'gateway_stream_no_start_total',
      help: 'Sockets given up on without START: known_call=true is a failed real call',
      labelNames: ['known_call'],
      registers,
    }),
    streamsStarted: new Counter({
      name: 'gateway_streams_started_total',
      help: 'Streams accepted at START',
      registers,
    }),
    streamsRejected: new Counter({
      name: 'gateway_streams_rejected_total',
      help: 'START refused (bad call token, CallSid mismatch)',
      labelNames: ['reason'],
      registers,
    }),
    upgradesRefused: new Counter({
      name: 'gateway_upgrades_refused_total',
      help: 'WebSocket upgrades refused, by HTTP status',
      labelNames: ['status'],
      registers,
    }),
    startWait: new Histogram({
      name: 'gateway_start_wait_ms',
      help: 'Time from socket accept to START (ms)',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    clipsPlayed: new Counter({
      name: 'gateway_clips_played_total',
      help: 'Pre-rendered clips sent to callers (hold, fallback, busy)',
      labelNames: ['clip'],
      registers,
    }),
    callRecordRetries: new Counter({
      name: 'gateway_call_record_retries_total',
      help: 'Calls rows of calls no bridge owned (no_start, NO_CAPACITY) that Postgres refused and were written again',
      registers,
    }),
    callRecordFailures: new Counter({
      name: 'gateway_call_record_failures_total',
      help: 'Calls rows of calls no bridge owned not written after every retry (call.record_failed on the timeline)',
      registers,
    }),
    rxFrames: new Counter({
      name: 'gateway_rx_frames_total',
      help: 'Caller media frames received and forwarded',
      registers,
    }),
    // Children bound once: the per-frame path must not look labels up.
    txMedia: txMessages.labels({ event: 'media' }),
    txMark: txMessages.labels({ event: 'mark' }),
    txClear: txMessages.labels({ event: 'clear' }),
    invalidMessages,
  };
}
