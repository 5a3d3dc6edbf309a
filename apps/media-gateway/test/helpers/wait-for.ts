/** Polls until `check` returns something truthy (and returns it), or fails with `what` after the timeout. */
export const WAIT_DEFAULTS = { timeoutMs: 5000, intervalMs: 20 } as const;

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? WAIT_DEFAULTS.timeoutMs;
  const intervalMs = opts.intervalMs ?? WAIT_DEFAULTS.intervalMs;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
