/**
 * Polls a condition until it holds, instead of sleeping a guessed amount of
 * time in tests. Fails with a named error that says what was awaited.
 */

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was awaited, for the error message. */
  message?: string;
}

export const WAIT_FOR_DEFAULTS = { timeoutMs: 5_000, intervalMs: 10 } as const;

export class WaitForTimeoutError extends Error {
  override name = 'WaitForTimeoutError';
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? WAIT_FOR_DEFAULTS.timeoutMs;
  const intervalMs = options.intervalMs ?? WAIT_FOR_DEFAULTS.intervalMs;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) {
      throw new WaitForTimeoutError(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'condition'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
