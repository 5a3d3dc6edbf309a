/**
 * Running migrations safely when several processes start at once (parallel
 * mocha runs, services booting together). knex's own lock row fails the loser
 * with "Migration table is already locked" instead of waiting, and creating the
 * knex_migrations tables themselves is not guarded at all; a PostgreSQL
 * advisory lock makes every caller wait its turn instead.
 */
import type { Knex } from 'knex';
import { migrationSource } from './migrations/index.js';

/** Arbitrary but fixed: every process of this project must use the same key. */
export const MIGRATION_ADVISORY_LOCK_KEY = 0x766f6963; // "voic"
/** One connection holds the advisory lock while knex migrates on another. */
export const MIN_MIGRATION_POOL_SIZE = 2;

export class MigrationPoolTooSmallError extends Error {
  override readonly name = 'MigrationPoolTooSmallError';
  constructor(poolMax: number) {
    super(
      `migrations need a pool of at least ${MIN_MIGRATION_POOL_SIZE} connections, this knex has ${poolMax}; ` +
        'create it with a larger poolMax',
    );
  }
}

export interface MigrationResult {
  /** The knex batch number the migrations ran (or were rolled back) in. */
  batch: number;
  /** Names of the migrations applied or reverted; empty when there was nothing to do. */
  migrations: string[];
}

const migratorConfig: Knex.MigratorConfig = { migrationSource };

/** Applies every pending migration. Needs a pool of at least two connections. */
export async function migrateLatest(knex: Knex): Promise<MigrationResult> {
  return withMigrationLock(knex, async () => toResult(await knex.migrate.latest(migratorConfig)));
}

/** Reverts every applied migration, newest first. */
export async function rollbackAll(knex: Knex): Promise<MigrationResult> {
  const rollbackEverything = true;
  return withMigrationLock(knex, async () => toResult(await knex.migrate.rollback(migratorConfig, rollbackEverything)));
}

// The lock lives in a transaction on one pooled connection while knex migrates
// on another; the transaction ending (commit or crash) releases it.
async function withMigrationLock<T>(knex: Knex, work: () => Promise<T>): Promise<T> {
  // Fail now rather than deadlock until the acquire timeout.
  const poolMax = (knex.client.config as Knex.Config).pool?.max;
  if (poolMax !== undefined && poolMax < MIN_MIGRATION_POOL_SIZE) throw new MigrationPoolTooSmallError(poolMax);
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_ADVISORY_LOCK_KEY]);
    return work();
  });
}

function toResult(raw: unknown): MigrationResult {
  // knex resolves [batchNo, names[]].
  const [batch, migrations] = raw as [number, string[]];
  return { batch, migrations };
}
