/**
 * Test support for every package whose tests touch PostgreSQL: a dedicated
 * `voice_test` database on the same server as DATABASE_URL, migrated to latest,
 * and ids unique enough that tests isolate themselves by their own data
 * instead of truncating tables other tests use.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { createDatabase } from './database.js';
import { DEFAULT_DATABASE_URL, withDatabaseName } from './database-url.js';
import { migrateLatest } from './migrate.js';
import { hasPgCode, PG_DUPLICATE_DATABASE, PG_UNIQUE_VIOLATION } from './pg-errors.js';

/**
 * TEST_DATABASE_NAME lets two checkouts on one server test side by side without
 * one's migrations meeting the other's (each its own database).
 */
export const TEST_DATABASE_NAME = process.env.TEST_DATABASE_NAME || 'voice_test';
/** Administrative work needs a single connection. */
const ADMIN_POOL_MAX = 1;
/** Fictional (+1 555) and longer than a real NANP number: E.164-valid, never dialable. */
const TEST_NUMBER_PREFIX = '+1555';
/** voice_test is never truncated, so numbers pile up across runs: keep collisions negligible. */
const TEST_NUMBER_RANDOM_DIGITS = 10;
const DECIMAL_BASE = 10;

export interface TestDatabase {
  url: string;
  knex: Knex;
}

/** The `voice_test` database on the same server as `baseUrl`. */
export function testDatabaseUrl(baseUrl: string = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL): string {
  return withDatabaseName(baseUrl, TEST_DATABASE_NAME);
}

/**
 * Creates `voice_test` if needed and migrates it. The caller owns the returned
 * knex and must close it (in mocha's after()).
 */
export async function prepareTestDatabase(
  baseUrl: string = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
): Promise<TestDatabase> {
  await ensureDatabaseExists(baseUrl, TEST_DATABASE_NAME);
  const url = testDatabaseUrl(baseUrl);
  const knex = createDatabase(url, { applicationName: 'voice-tests' });
  try {
    await migrateLatest(knex);
  } catch (error) {
    await knex.destroy();
    throw error;
  }
  return { url, knex };
}

/**
 * Creates database `name` on the server of `baseUrl` unless it exists. Several
 * mocha processes may race here; the loser's "already exists" is success.
 */
export async function ensureDatabaseExists(baseUrl: string, name: string): Promise<void> {
  await withAdminConnection(baseUrl, async (admin) => {
    const existing: unknown[] = await admin('pg_database').select('datname').where({ datname: name });
    if (existing.length > 0) return;
    try {
      await admin.raw('create database ??', [name]);
    } catch (error) {
      // 42P04 when the other creator committed first; 23505 (pg_database's
      // unique index) when both were inside CREATE DATABASE at once.
      if (!hasPgCode(error, PG_DUPLICATE_DATABASE, PG_UNIQUE_VIOLATION)) throw error;
    }
  });
}

/** Drops database `name` (for scratch databases), disconnecting anyone still on it. */
export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  await withAdminConnection(baseUrl, async (admin) => {
    await admin.raw('drop database if exists ?? with (force)', [name]);
  });
}

async function withAdminConnection(baseUrl: string, work: (admin: Knex) => Promise<void>): Promise<void> {
  const admin = createDatabase(baseUrl, { poolMax: ADMIN_POOL_MAX, applicationName: 'voice-tests-admin' });
  try {
    await work(admin);
  } finally {
    await admin.destroy();
  }
}

/** A fictional E.164 number no other test will pick. */
export function uniquePhoneNumber(): string {
  const digits = Array.from({ length: TEST_NUMBER_RANDOM_DIGITS }, () => randomInt(DECIMAL_BASE)).join('');
  return `${TEST_NUMBER_PREFIX}${digits}`;
}

/** A Twilio-shaped CallSid ("CA" + 32 hex digits) unique to this test. */
export function uniqueCallSid(): string {
  return `CA${randomUUID().replaceAll('-', '')}`;
}
