/**
 * Consumer side of the prebuild queue: loads the business, builds the compact
 * prompt, stores it under `call:{CA}:prompt` for the bridge's fast path (and
 * offers the warm claim), and caches it for the business's next calls
 * (prompt-cache.ts).
 */
import { Worker, type Job } from 'bullmq';
import type { BusinessRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { buildPrompt } from '@voice/agent';
import { QUEUE_NAMES, type Timeline, type RedisClient } from '@voice/redis';
import type { Histogram, Counter } from 'prom-client';
import { closeWorker, trackJobs } from '../queues/close-worker.js';
import { prebuildJobData, type PrebuildJobData } from './prebuild-job.js';
import type { PromptCache } from './prompt-cache.js';
import type { PromptPublisher } from './prompt-publisher.js';

export interface PrebuildWorkerDeps {
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  publisher: PromptPublisher;
  promptCache: PromptCache;
  businesses: BusinessRepository;
  timeline: Timeline;
  logger: Logger;
  metrics: { prebuildMs: Histogram; prebuildFailures: Counter };
}

export class PrebuildWorkerError extends Error {
  override name = 'PrebuildWorkerError';
}

export interface PrebuildWorker {
  /** Starts taking jobs; resolves when the worker stops. */
  run(): Promise<void>;
  /** Stops taking jobs, waits for the running ones, closes (see close-worker.ts). */
  close(): Promise<void>;
}

export function createPrebuildWorker(deps: PrebuildWorkerDeps): PrebuildWorker {
  const jobs = trackJobs<PrebuildJobData>((job) => prebuild(deps, job));
  const worker = new Worker<PrebuildJobData>(QUEUE_NAMES.prebuild, (job) => jobs.process(job), {
    connection: deps.connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    autorun: false,
  });
  worker.on('error', (err) => deps.logger.error('prebuild worker error', errorFields(err)));
  worker.on('failed', (job, err) => {
    deps.metrics.prebuildFailures.inc();
    deps.logger.error('prebuild job failed', { callSid: job?.id, attempts: job?.attemptsMade, ...errorFields(err) });
  });
  return {
    run: () => worker.run(),
    close: () => closeWorker(worker, jobs),
  };
}

async function prebuild(deps: PrebuildWorkerDeps, job: Job<PrebuildJobData>): Promise<void> {
  const started = Date.now();
  const data = prebuildJobData.parse(job.data);
  const business = await deps.businesses.findById(data.businessId);
  if (!business) throw new PrebuildWorkerError(`business ${data.businessId} not found for call ${data.callSid}`);
  const prompt = buildPrompt(business, data.direction);
  // The phone is still ringing: with warm sessions on, a bridge can open and configure the model session now.
  await Promise.all([deps.publisher.publish(data.callSid, prompt), deps.promptCache.set(business, prompt)]);
  const ms = Date.now() - started;
  deps.metrics.prebuildMs.observe(ms);
  await deps.timeline.record(data.callSid, 'prompt.prebuilt', {
    chars: prompt.instructions.length,
    tools: prompt.toolNames.length,
    ms,
    queue_wait_ms: started - data.enqueuedAt,
    source: 'job',
  });
}
