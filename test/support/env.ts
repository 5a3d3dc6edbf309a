/**
 * Configuration for services started inside a test: real Redis and Postgres,
 * a namespace of its own per test (so parallel or leftover state never mixes),
 * port 0 everywhere, logs silenced unless TEST_LOG_LEVEL says otherwise.
 */
import { randomBytes } from 'node:crypto';
import { testDatabaseUrl } from '@voice/db';

export const TEST_AUTH_TOKEN = 'test-twilio-auth-token';
export const TEST_ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const TEST_OPENAI_KEY = 'sk-test-realtime-double';
export const PUBLIC_BASE_URL = 'https://voice.example.test';
export const PUBLIC_STREAM_URL = 'wss://media.example.test/ws/twilio-media';

export function uniqueNamespace(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}

export function baseTestEnv(namespace: string, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    DATABASE_URL: testDatabaseUrl(),
    REDIS_NAMESPACE: namespace,
    PUBLIC_BASE_URL,
    PUBLIC_STREAM_URL,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPENAI_API_KEY: TEST_OPENAI_KEY,
    WEBHOOK_PORT: '0',
    GATEWAY_PORT: '0',
    BRIDGE_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}
