/**
 * Closing a BullMQ worker gracefully without leaking a connection on a Redis Cluster.
 *
 * BullMQ 6.7's `worker.close()` first interrupts the worker's blocking read by
 * disconnecting its blocking connection; on an ioredis Cluster, BullMQ's own
 * recovery for that connection takes the interruption for a failure and
 * reconnects it, racing the close, and the reconnected client can outlive it
 * (an open socket to a replica; `npm run test:cluster` hung on it). So the
 * worker is closed in three steps instead: stop fetching jobs (pause without
 * waiting, which leaves the blocking read alone), wait for the jobs already
 * running (tracked by trackJobs), then force-close, which turns that recovery
 * off before it disconnects.
 */
import type { Job, Worker } from 'bullmq';

export interface TrackedJobs<T> {
  /** The processor to hand to `new Worker(...)`. */
  process(job: Job<T>): Promise<void>;
  /** Resolves once no job started by `process` is still running. */
  idle(): Promise<void>;
}

export function trackJobs<T>(processor: (job: Job<T>) => Promise<void>): TrackedJobs<T> {
  const running = new Set<Promise<void>>();
  return {
    process(job) {
      const run = processor(job);
      running.add(run);
      // BullMQ handles the job's failure; this chain only keeps the set current.
      run.then(
        () => running.delete(run),
        () => running.delete(run),
      );
      return run;
    },
    async idle() {
      await Promise.allSettled([...running]);
    },
  };
}

export async function closeWorker<T>(worker: Worker<T>, jobs: TrackedJobs<T>): Promise<void> {
  await worker.pause(true);
  await jobs.idle();
  await worker.close(true);
}
