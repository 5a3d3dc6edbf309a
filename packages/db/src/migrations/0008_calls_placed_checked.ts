/**
 * When the placed-call sweep last asked Twilio about a call. Every webhook
 * replica sweeps; each claims the calls it asks about by stamping this column
 * (FOR UPDATE SKIP LOCKED), so a stale call is asked about once per round
 * whatever the replica count (Twilio rate-limits its REST API), and calls
 * asked about longest ago go first, so a few calls Twilio keeps reporting as
 * live cannot starve the rest. Frozen once shipped.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('calls', (table) => {
    table.timestamp('placed_checked_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('calls', (table) => {
    table.dropColumn('placed_checked_at');
  });
}
