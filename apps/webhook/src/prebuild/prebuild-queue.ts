/**
 * Producer side of the prebuild queue. The job id is the CallSid, so a webhook
 * Twilio retries enqueues nothing new.
 */
import { Queue } from 'bullmq';
import { QUEUE_NAMES, type RedisClient } from '@voice/redis';
import { PREBUILD_JOB_NAME, type PrebuildJobData } from './prebuild-job.js';

const KEEP_COMPLETED = { age: 3600, count: 5000 };
const KEEP_FAILED = { age: 24 * 3600 };

export class PrebuildQueue {
  private readonly queue: Queue<PrebuildJobData>;

  constructor(
    connection: RedisClient,
    prefix: string,
    private readonly opts: { attempts: number; backoffMs: number },
    onError: (err: Error) => void,
  ) {
    this.queue = new Queue<PrebuildJobData>(QUEUE_NAMES.prebuild, { connection, prefix });
    this.queue.on('error', onError);
  }

  /** Returns false when a job for this call already existed (a retried webhook). */
  async enqueue(data: PrebuildJobData): Promise<boolean> {
    // BullMQ itself ignores a second add with the same job id; the lookup only tells the timeline.
    if (await this.queue.getJob(data.callSid)) return false;
    await this.queue.add(PREBUILD_JOB_NAME, data, {
      jobId: data.callSid,
      attempts: this.opts.attempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    });
    return true;
  }

  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
