import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per service, labelled with the service and instance; process metrics included. */
export function createMetricsRegistry(service: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, instance });
  collectDefaultMetrics({ register: registry });
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
