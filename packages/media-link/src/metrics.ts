/**
 * Media link metrics (prom-client), the same names on gateways and bridges
 * so one dashboard reads both, and the observer each link reports to.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LinkObserver } from './link.js';

const RTT_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000];

export function createLinkMetrics(registry: Registry) {
  const registers = [registry];
  return {
    linksOpen: new Gauge({
      name: 'media_link_open',
      help: 'Media links open now (gateway: to bridges; bridge: from gateways)',
      registers,
    }),
    linksClosed: new Counter({
      name: 'media_link_closed_total',
      help: 'Media links closed, by reason (closed, peer_silent, stalled, shutdown, ...)',
      labelNames: ['reason'],
      registers,
    }),
    dialFailures: new Counter({
      name: 'media_link_dial_failures_total',
      help: 'Gateway: dials to a bridge that failed (refused, timed out, wrong secret)',
      registers,
    }),
    peersRefused: new Counter({
      name: 'media_link_refused_total',
      help: 'Bridge: connections to the media link port refused, by reason (bad_secret, malformed, timeout, ...)',
      labelNames: ['reason'],
      registers,
    }),
    audioDropped: new Counter({
      name: 'media_link_audio_dropped_total',
      help: 'Audio records dropped because the peer was not reading fast enough',
      registers,
    }),
    invalidRecords: new Counter({
      name: 'media_link_invalid_records_total',
      help: 'Malformed media link records skipped',
      registers,
    }),
    attachRefused: new Counter({
      name: 'media_link_attach_refused_total',
      help: 'Bridge: attach requests refused, by reason',
      labelNames: ['reason'],
      registers,
    }),
    rttMs: new Histogram({
      name: 'media_link_rtt_ms',
      help: 'Media link ping round trip (ms)',
      buckets: RTT_BUCKETS_MS,
      registers,
    }),
  };
}

export type LinkMetrics = ReturnType<typeof createLinkMetrics>;

export function linkObserver(m: LinkMetrics): LinkObserver {
  return {
    audioDropped: () => m.audioDropped.inc(),
    invalidRecord: () => m.invalidRecords.inc(),
    rtt: (ms) => m.rttMs.observe(ms),
  };
}
