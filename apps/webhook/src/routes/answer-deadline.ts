/**
 * Twilio waits on the webhook's answer with the caller on the line, and gives
 * up (its own error message, then a hangup) after about 15 s. Every route that
 * answers a live call with TwiML therefore asks whether Redis is there at all
 * first, and bounds the rest: a Redis that accepts connections but does not
 * answer must cost the caller a second or two and the spoken fallback, not
 * Twilio's error.
 */
import type { RedisClient } from '@voice/redis';

/** The connection is ready, or becomes ready within `waitMs` (a reconnect under way). */
export async function connected(redis: RedisClient, waitMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  if (waitMs <= 0) return false;
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), waitMs);
    redis.on('ready', onReady);
  });
}

/**
 * The work's result, or undefined once `ms` passed. Work that finishes late is left to finish (the
 * caller already got the fallback; the route says what to undo), and its failure is not reported twice.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
