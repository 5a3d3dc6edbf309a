/**
 * Configuration for services started inside a test: real Redis and Postgres,
 * a namespace of its own per test (so parallel or leftover state never mixes),
 * port 0 everywhere, logs silenced unless TEST_LOG_LEVEL says otherwise.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_REDIS_URL, field, parseEnv } from '@voice/config';
import { testDatabaseUrl } from '@voice/db';
import type { RedisEndpoint } from '@voice/redis';

export const TEST_AUTH_TOKEN = 'test-twilio-auth-token';
export const TEST_ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const TEST_OPENAI_KEY = 'sk-test-realtime-double';
export const PUBLIC_BASE_URL = 'https://voice.example.test';
export const TEST_MEDIA_LINK_SECRET = 'test-media-link-secret-0123456789';
export const PUBLIC_STREAM_URL = 'wss://media.example.test/ws/twilio-media';

export function uniqueNamespace(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}

/**
 * The Redis the tests use: REDIS_URL, or the cluster at REDIS_CLUSTER_NODES
 * (`npm run test:cluster` sets it), parsed the way the services parse it.
 */
export function testRedisEndpoint(): RedisEndpoint {
  const e = parseEnv({ REDIS_URL: field.redisUrl(), REDIS_CLUSTER_NODES: field.redisClusterNodes() }, process.env);
  return { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES };
}

export function baseTestEnv(
  namespace: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    REDIS_URL: process.env.REDIS_URL || DEFAULT_REDIS_URL,
    // Unset unless the suite runs on a cluster; when set, every service uses it instead of REDIS_URL.
    REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES,
    DATABASE_URL: testDatabaseUrl(),
    REDIS_NAMESPACE: namespace,
    PUBLIC_BASE_URL,
    PUBLIC_STREAM_URL,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPENAI_API_KEY: TEST_OPENAI_KEY,
    WEBHOOK_PORT: '0',
    GATEWAY_PORT: '0',
    BRIDGE_PORT: '0',
    // Bridges listen for media links on a port of their own; gateways dial 127.0.0.1.
    MEDIA_LINK_SECRET: TEST_MEDIA_LINK_SECRET,
    MEDIA_LINK_PORT: '0',
    MEDIA_LINK_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}
