/**
 * A write that must land (a calls row, a Twilio action Twilio sends us once)
 * is tried again after each of a few fixed waits. The waits are the caller's:
 * each knows how long it may take (a live call's watchdog, a bridge slot held).
 */

export type RetryOutcome<T> =
  { ok: true; value: T; attempts: number } | { ok: false; error: unknown; attempts: number };

export interface RetryOptions {
  /** False: give up at once (a refusal that another try would only repeat). Default: always retry. */
  worthRetrying?: (err: unknown) => boolean;
  /** Before each wait: log it, count it. */
  onRetry?: (err: unknown, attempt: number, retryInMs: number) => void;
}

/** Runs `work`, then again after each of `delaysMs` while it fails; never throws. */
export async function retryAfter<T>(
  delaysMs: readonly number[],
  work: () => Promise<T>,
  opts: RetryOptions = {},
): Promise<RetryOutcome<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { ok: true, value: await work(), attempts: attempt };
    } catch (error) {
      const delay = delaysMs[attempt - 1];
      if (delay === undefined || opts.worthRetrying?.(error) === false) return { ok: false, error, attempts: attempt };
      opts.onRetry?.(error, attempt, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
