import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop lag histogram samples (prom-client's default is 10 ms). Each sample is
 * a timer that wakes an idle process: at 10 ms that was 100 wakeups a second per process, most of
 * an idle service's CPU. 50 ms still catches any stall long enough to hurt audio (20 ms frames
 * pile up behind it) within one scrape.
 */
export const EVENT_LOOP_LAG_SAMPLE_MS = 50;

/** One registry per service, labelled with the service and instance; process metrics included. */
export function createMetricsRegistry(service: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, instance });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_SAMPLE_MS });
  return registry;
}

/** Buckets for call-setup latencies (ms): fine below a second, where the targets are. */
export const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 150, 250, 400, 600, 800, 1000, 1500, 2000, 3000, 5000, 8000, 15000];

/**
 * What the call timeline reports while Redis is unreachable (the observer of @voice/redis'
 * Timeline): entries waiting in memory, and entries dropped because the buffer was full.
 */
export function createTimelineMetrics(registry: Registry): { buffered(size: number): void; lost(count: number): void } {
  const list = [registry];
  const buffered = new Gauge({
    name: 'timeline_entries_buffered',
    help: 'Timeline entries kept in memory while Redis is unreachable',
    registers: list,
  });
  const lost = new Counter({
    name: 'timeline_entries_lost_total',
    help: 'Timeline entries dropped while Redis was unreachable (the outage buffer was full)',
    registers: list,
  });
  return { buffered: (size) => buffered.set(size), lost: (count) => lost.inc(count) };
}
