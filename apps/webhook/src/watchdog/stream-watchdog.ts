/**
 * The call-side watchdog. The gateway can only judge sockets that exist; if
 * Twilio never opens the media stream at all, nothing else notices. So when
 * the webhook answers, a delayed job is queued; when it runs, a call whose
 * stream never started is recorded as failed (`stream.never_started`).
 * The job id is derived from the CallSid, so a retried webhook queues nothing new.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { z } from 'zod';
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { QUEUE_NAMES, transientCallKeys, type Timeline, type RedisClient } from '@voice/redis';
import type { Counter } from 'prom-client';
import { closeWorker, trackJobs, type TrackedJobs } from '../queues/close-worker.js';

const watchdogJob = z.object({ callSid: z.string(), answeredAt: z.number() });
type WatchdogJob = z.infer<typeof watchdogJob>;

const JOB_NAME = 'stream-watchdog';
const KEEP = { removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: { age: 24 * 3600 } };

export interface StreamWatchdogDeps {
  connection: RedisClient;
  redis: RedisClient;
  prefix: string;
  delayMs: number;
  calls: CallRepository;
  timeline: Timeline;
  logger: Logger;
  neverStarted: Counter;
}

export class StreamWatchdog {
  private readonly queue: Queue<WatchdogJob>;
  private worker: Worker<WatchdogJob> | undefined;
  private readonly jobs: TrackedJobs<WatchdogJob> = trackJobs((job) => this.check(job));

  constructor(private readonly deps: StreamWatchdogDeps) {
    this.queue = new Queue<WatchdogJob>(QUEUE_NAMES.streamWatchdog, { connection: deps.connection, prefix: deps.prefix });
    this.queue.on('error', (err) => deps.logger.error('stream watchdog queue error', errorFields(err)));
  }

  /** Arms the watchdog for a call whose webhook was just answered. */
  async arm(callSid: string, answeredAt: number): Promise<void> {
    await this.queue.add(JOB_NAME, { callSid, answeredAt }, { jobId: `watchdog-${callSid}`, delay: this.deps.delayMs, ...KEEP });
  }

  startWorker(): void {
    this.worker = new Worker<WatchdogJob>(QUEUE_NAMES.streamWatchdog, (job) => this.jobs.process(job), {
      connection: this.deps.connection,
      prefix: this.deps.prefix,
    });
    this.worker.on('error', (err) => this.deps.logger.error('stream watchdog worker error', errorFields(err)));
  }

  async close(): Promise<void> {
    if (this.worker) await closeWorker(this.worker, this.jobs);
    await this.queue.close();
  }

  private async check(job: Job<WatchdogJob>): Promise<void> {
    const { callSid, answeredAt } = watchdogJob.parse(job.data);
    const call = await this.deps.calls.findByCallSid(callSid);
    if (!call || call.streamStartedAt || call.endedAt) return;
    const waitedMs = Date.now() - answeredAt;
    this.deps.neverStarted.inc();
    const log = this.deps.logger.child({ callSid });
    await this.deps.timeline.record(callSid, 'stream.never_started', { waited_ms: waitedMs }, { level: 'error', logger: log });
    await this.deps.timeline.record(callSid, 'call.ended', { end_reason: 'no_stream', rx: 0, tx: 0, is_ghost: false, duration_ms: 0 }, { logger: log });
    await this.deps.calls.recordEnded(callSid, {
      endedAt: new Date(),
      status: 'failed',
      endReason: 'no_stream',
      rxFrames: 0,
      txFrames: 0,
      isGhost: false,
      silentFailure: false,
      metrics: { waited_ms: waitedMs },
    });
    await this.deps.redis.del(...transientCallKeys(callSid));
  }
}
