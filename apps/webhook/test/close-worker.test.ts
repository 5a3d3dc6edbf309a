/**
 * closeWorker (src/queues/close-worker.ts): a worker being shut down takes no
 * new job but lets the running one finish, against the Redis the suite uses
 * (standalone, or the cluster under `npm run test:cluster`).
 */
import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { createLogger } from '@voice/logging';
import { createRedis, quitRedis, sharedKeys } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { closeWorker, trackJobs } from '../src/queues/close-worker.js';
import { testRedisEndpoint, uniqueNamespace } from '../../../test/support/env.js';
import { assertionRedis, deleteNamespace } from '../../../test/support/redis.js';

const QUEUE = 'close-worker-test';

describe('webhook: closing a queue worker', () => {
  it('waits for the running job, takes no new one, then closes', async () => {
    const namespace = uniqueNamespace();
    const prefix = sharedKeys(namespace).bullPrefix;
    const logger = createLogger({ service: 'test', instance: 'close-worker', level: 'silent' });
    const connection = createRedis({ endpoint: testRedisEndpoint(), name: 'test-bullmq', role: 'bullmq', logger });
    const queue = new Queue(QUEUE, { connection, prefix });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const jobs = trackJobs<{ n: number }>(async (job) => {
      started.push(job.id!);
      await released;
    });
    const worker = new Worker<{ n: number }>(QUEUE, (job) => jobs.process(job), { connection, prefix });
    worker.on('error', () => undefined);
    try {
      await queue.add('first', { n: 1 }, { jobId: 'first' });
      await waitFor(() => started.length === 1, { message: 'the first job running' });

      let closed = false;
      const closing = closeWorker(worker, jobs).then(() => (closed = true));
      await waitFor(() => worker.isPaused(), { message: 'the worker paused' });
      await queue.add('second', { n: 2 }, { jobId: 'second' });
      expect(closed, 'close waits for the running job').to.equal(false);

      release();
      await closing;
      expect(started, 'no job taken after close began').to.deep.equal(['first']);
      await waitFor(async () => (await queue.getJobState('first')) === 'completed', {
        message: 'the first job completed',
      });
      expect(await queue.getJobState('second')).to.equal('waiting');
    } finally {
      await queue.close();
      await quitRedis(connection);
      const redis = assertionRedis();
      await deleteNamespace(redis, namespace);
      await quitRedis(redis);
    }
  });
});
