import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  createDatabase,
  closeDatabase,
  dropDatabase,
  ensureDatabaseExists,
  migrateLatest,
  rollbackAll,
  MigrationPoolTooSmallError,
  withDatabaseName,
  MIGRATION_NAMES,
  DEFAULT_DATABASE_URL,
} from '@voice/db';

const TABLES = ['businesses', 'business_phone_numbers', 'calls', 'appointments', 'outbound_requests'];

// Rolling back drops tables every other test uses, so this test owns a
// scratch database instead of touching voice_test.
describe('migrations', () => {
  const baseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const scratchName = `voice_test_migrations_${process.pid}`;
  let knex: Knex;

  before(async () => {
    await ensureDatabaseExists(baseUrl, scratchName);
    knex = createDatabase(withDatabaseName(baseUrl, scratchName));
  });

  after(async () => {
    await closeDatabase(knex);
    await dropDatabase(baseUrl, scratchName);
  });

  async function existingTables(): Promise<string[]> {
    const rows: { table_name: string }[] = await knex('information_schema.tables')
      .select('table_name')
      .where({ table_schema: 'public' })
      .whereIn('table_name', TABLES);
    return rows.map((row) => row.table_name).sort();
  }

  it('migrates up, rolls everything back, and migrates up again', async () => {
    const first = await migrateLatest(knex);
    expect(first.migrations).to.deep.equal(MIGRATION_NAMES);
    expect(await existingTables()).to.deep.equal([...TABLES].sort());

    const again = await migrateLatest(knex);
    expect(again.migrations, 'a second run has nothing to do').to.deep.equal([]);

    const down = await rollbackAll(knex);
    expect(down.migrations).to.have.members([...MIGRATION_NAMES]);
    expect(await existingTables()).to.deep.equal([]);

    const up = await migrateLatest(knex);
    expect(up.migrations).to.deep.equal(MIGRATION_NAMES);
    expect(await existingTables()).to.deep.equal([...TABLES].sort());
  });

  it('lets concurrent migrators wait for each other instead of failing', async () => {
    await rollbackAll(knex);
    // From scratch, so the racers also contend for creating knex's own tables.
    await knex.schema.dropTable('knex_migrations').dropTable('knex_migrations_lock');
    const others = [1, 2].map(() => createDatabase(withDatabaseName(baseUrl, scratchName)));
    try {
      const results = await Promise.all([knex, ...others].map((db) => migrateLatest(db)));
      const applied = results.flatMap((result) => result.migrations);
      expect(applied, 'each migration ran exactly once').to.deep.equal(MIGRATION_NAMES);
    } finally {
      await Promise.all(others.map((db) => closeDatabase(db)));
    }
  });

  it('refuses a single-connection pool up front instead of deadlocking', async () => {
    const tiny = createDatabase(withDatabaseName(baseUrl, scratchName), { poolMax: 1 });
    try {
      let thrown: unknown;
      try {
        await migrateLatest(tiny);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).to.be.instanceOf(MigrationPoolTooSmallError);
    } finally {
      await closeDatabase(tiny);
    }
  });
});
