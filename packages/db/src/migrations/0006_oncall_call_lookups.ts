/**
 * Indexes for the on-call CLI (`npm run calls`): an engineer looks a call up by
 * a phone number and a time, lists the calls that failed in the last hour and
 * the calls still live. Without these each of those is a scan of every call
 * ever recorded. Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('calls', (table) => {
    table.index(['from_number', 'received_at'], 'calls_from_number_received_at');
    table.index(['to_number', 'received_at'], 'calls_to_number_received_at');
    table.index(['ended_at'], 'calls_ended_at');
  });
  // Live calls: few rows, so a partial index stays small however many calls ended.
  await knex.raw('create index calls_not_ended on calls (received_at) where ended_at is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists calls_not_ended');
  await knex.schema.alterTable('calls', (table) => {
    table.dropIndex([], 'calls_ended_at');
    table.dropIndex([], 'calls_to_number_received_at');
    table.dropIndex([], 'calls_from_number_received_at');
  });
}
