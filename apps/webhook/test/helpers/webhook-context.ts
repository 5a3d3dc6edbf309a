/**
 * The hooks every webhook test file needs: the test database, a Redis client
 * for assertions, and a webhook service of its own per test (own namespace),
 * stopped and its shared keys deleted afterwards.
 */
import type { Knex } from 'knex';
import { prepareTestDatabase } from '@voice/db';
import { createLogger } from '@voice/logging';
import { quitRedis, type RedisClient } from '@voice/redis';
import { loadWebhookConfig } from '../../src/config.js';
import { createWebhookService, type WebhookService } from '../../src/webhook-service.js';
import { baseTestEnv, uniqueNamespace } from '../../../../test/support/env.js';
import { assertionRedis, deleteNamespace } from '../../../../test/support/redis.js';

export interface WebhookTestContext {
  knex: Knex;
  redis: RedisClient;
  service: WebhookService;
  namespace: string;
}

export function useWebhookService(env: Record<string, string> = {}): WebhookTestContext {
  const ctx = {} as WebhookTestContext;
  before(async () => {
    ctx.knex = (await prepareTestDatabase()).knex;
    ctx.redis = assertionRedis();
  });
  beforeEach(async () => {
    ctx.namespace = uniqueNamespace();
    const config = loadWebhookConfig(baseTestEnv(ctx.namespace, env));
    ctx.service = createWebhookService(
      config,
      createLogger({ service: 'webhook', instance: 'test', level: config.logLevel }),
    );
    await ctx.service.start();
  });
  afterEach(async () => {
    await ctx.service.stop();
    await deleteNamespace(ctx.redis, ctx.namespace);
  });
  after(async () => {
    await ctx.knex.destroy();
    await quitRedis(ctx.redis);
  });
  return ctx;
}
