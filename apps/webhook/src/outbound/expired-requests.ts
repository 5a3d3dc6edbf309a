/**
 * Idempotency-Key answers are replayed for IDEMPOTENCY_KEEP_SECONDS; after
 * that a retry with the key is a new request anyway (outbound_requests takes
 * it over), so the rows are only history. This sweep deletes them every
 * EXPIRED_REQUESTS_SWEEP_MS, a batch at a time so a backlog never holds a long
 * lock. Every webhook replica runs it; deleting a row twice is harmless.
 */
import type { OutboundRequestRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { PeriodicSweep } from '../watchdog/periodic-sweep.js';
import { IDEMPOTENCY_KEEP_SECONDS } from './idempotency.js';

const EXPIRED_REQUESTS_SWEEP_MS = 3600_000;
const BATCH = 1000;

async function deleteExpiredRequests(requests: OutboundRequestRepository, logger: Logger): Promise<number> {
  let deleted = 0;
  try {
    for (;;) {
      const batch = await requests.deleteExpired(IDEMPOTENCY_KEEP_SECONDS, BATCH);
      deleted += batch;
      if (batch < BATCH) break;
    }
  } catch (err) {
    logger.warn('expired Idempotency-Keys not deleted; the next sweep tries again', { deleted, ...errorFields(err) });
    return deleted;
  }
  if (deleted > 0) logger.info('expired Idempotency-Keys deleted', { deleted });
  return deleted;
}

export function expiredRequestsSweep(requests: OutboundRequestRepository, logger: Logger): PeriodicSweep {
  return new PeriodicSweep(EXPIRED_REQUESTS_SWEEP_MS, async () => {
    await deleteExpiredRequests(requests, logger);
  });
}
