/**
 * The end of a call written to its calls row, by whichever service finished the call: the bridge
 * (its calls), the gateway (calls no bridge owned: no_start, NO_CAPACITY) and the webhook (calls it
 * answered with the spoken fallback). A Postgres blip (a failover, a pooled connection that broke)
 * as a call ends must not leave its row without its outcome, transcript or cost, so the write is
 * tried again; every such write is an idempotent upsert, so trying again is safe.
 */
import { errorFields, type Logger } from '@voice/logging';
import { retryAfter } from '@voice/runtime';
import { postgresReason } from './pg-errors.js';

/** Waits between attempts: about 4 s in all, within what a finishing call can hold its slot. */
export const CALL_ROW_RETRY_DELAYS_MS = [250, 1000, 3000] as const;

/** Written, or not after every attempt: `error` is what Postgres said, short enough for the timeline. */
export type CallRowWrite = { ok: true } | { ok: false; attempts: number; error: string };

export interface CallRowWriteHooks {
  /** Logs each retry (warn) and the giving up (error); a child logger carries the call. */
  logger: Logger;
  /** The service's counters: before each retry, and once when it gives up. */
  retried(): void;
  failed(): void;
}

/** Runs `write`, then again after each of CALL_ROW_RETRY_DELAYS_MS while it fails; never throws. */
export async function writeCallRow(write: () => Promise<unknown>, hooks: CallRowWriteHooks): Promise<CallRowWrite> {
  const written = await retryAfter(CALL_ROW_RETRY_DELAYS_MS, write, {
    onRetry: (err, attempt, retryInMs) => {
      hooks.retried();
      hooks.logger.warn('calls row not written; trying again', {
        attempt,
        retry_in_ms: retryInMs,
        ...errorFields(err),
      });
    },
  });
  if (written.ok) return { ok: true };
  hooks.failed();
  hooks.logger.error('calls row not written; giving up', { attempts: written.attempts, ...errorFields(written.error) });
  return { ok: false, attempts: written.attempts, error: postgresReason(written.error) };
}
