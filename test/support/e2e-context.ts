/**
 * The hooks every end-to-end test file needs: the test database, a Redis
 * client for assertions, and the stack the test started, stopped after each test.
 */
import type { Knex } from 'knex';
import { prepareTestDatabase } from '@voice/db';
import { quitRedis, readTimeline, type RedisClient, type TimelineEntry } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { assertionRedis } from './redis.js';
import { startStack, type Stack, type StackOptions } from './stack.js';

export interface E2EContext {
  knex: Knex;
  redis: RedisClient;
  /** The stack the running test started; stopped (and cleared) after each test. */
  stack: Stack | undefined;
  /** Starts the in-process stack for this test. */
  start(options?: StackOptions): Promise<Stack>;
}

export function useE2EContext(): E2EContext {
  const ctx = {
    stack: undefined,
    async start(options?: StackOptions) {
      ctx.stack = await startStack(options);
      return ctx.stack;
    },
  } as E2EContext;
  before(async () => {
    ctx.knex = (await prepareTestDatabase()).knex;
    ctx.redis = assertionRedis();
  });
  afterEach(async () => {
    await ctx.stack?.stop();
    ctx.stack = undefined;
  });
  after(async () => {
    await ctx.knex.destroy();
    await quitRedis(ctx.redis);
  });
  return ctx;
}

/** The call's timeline once the bridge has finalized it (call.metrics written). */
export async function finishedTimeline(
  redis: RedisClient,
  callSid: string,
  timeoutMs = 15_000,
): Promise<TimelineEntry[]> {
  await waitFor(async () => (await readTimeline(redis, callSid)).some((e) => e.event === 'call.metrics'), {
    timeoutMs,
    message: `call.metrics of ${callSid}`,
  });
  return readTimeline(redis, callSid);
}

export const eventNames = (timeline: TimelineEntry[]): string[] => timeline.map((e) => e.event);
export const findEvent = (timeline: TimelineEntry[], event: string): TimelineEntry | undefined =>
  timeline.find((e) => e.event === event);
