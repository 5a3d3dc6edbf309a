import { Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per service, labelled with the service and instance; process metrics included. */
export function createMetricsRegistry(service: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, instance });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Buckets for call-setup latencies (ms): fine below a second, where the targets are. */
export const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 150, 250, 400, 600, 800, 1000, 1500, 2000, 3000, 5000, 8000, 15000];
