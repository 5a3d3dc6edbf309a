/**
 * The placed-call sweep (apps/webhook/src/outbound/placed-call-sweeper.ts) asks
 * "which outbound calls are still `placed` long after they could have rung?"
 * every half minute; a partial index keeps that cheap however many calls the
 * table holds (it only indexes calls still placed). Frozen once shipped.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`create index calls_placed on calls (created_at) where status = 'placed' and ended_at is null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists calls_placed');
}
