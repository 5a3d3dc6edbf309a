/**
 * What each CLI command does; each returns the line to print on success.
 */
import type { Knex } from 'knex';
import { migrateLatest, rollbackAll } from '../migrate.js';
import { seedDemoBusiness, DEMO_PHONE_NUMBER } from '../seed.js';

export type CommandName = 'migrate' | 'seed' | 'rollback';
export const COMMAND_NAMES: readonly CommandName[] = ['migrate', 'seed', 'rollback'];

export function isCommandName(value: string | undefined): value is CommandName {
  return COMMAND_NAMES.some((name) => name === value);
}

export const commands: Record<CommandName, (knex: Knex) => Promise<string>> = {
  async migrate(knex) {
    const result = await migrateLatest(knex);
    if (result.migrations.length === 0) return 'database already up to date';
    return `applied ${result.migrations.length} migration(s) in batch ${result.batch}: ${result.migrations.join(', ')}`;
  },

  async seed(knex) {
    const business = await seedDemoBusiness(knex);
    return `seeded demo business "${business.name}" (${business.id}) answering ${DEMO_PHONE_NUMBER}`;
  },

  async rollback(knex) {
    const result = await rollbackAll(knex);
    if (result.migrations.length === 0) return 'nothing to roll back';
    return `rolled back ${result.migrations.length} migration(s): ${result.migrations.join(', ')}`;
  },
};
