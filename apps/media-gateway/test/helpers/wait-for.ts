/**
 * The gateway tests' waitFor returns what the check found (an entry, a message),
 * on top of the test kit's polling waitFor.
 */
import { waitFor as poll } from '@voice/testkit';

export const WAIT_DEFAULTS = { timeoutMs: 5000, intervalMs: 20 } as const;

export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  let found: T | undefined;
  await poll(
    async () => {
      const value = await check();
      if (!value) return false;
      found = value;
      return true;
    },
    {
      timeoutMs: opts.timeoutMs ?? WAIT_DEFAULTS.timeoutMs,
      intervalMs: opts.intervalMs ?? WAIT_DEFAULTS.intervalMs,
      message: what,
    },
  );
  return found as T;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
