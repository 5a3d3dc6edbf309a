/**
 * POST /calls requests made with an `Idempotency-Key`, by the key's SHA-256:
 * `in_flight` while the call is being placed, then the answer given (201, or
 * 504 when Twilio's outcome is unknown), replayed to every retry, and the
 * SHA-256 of the request it was given with: the key reused for another request
 * (another callee) is refused, not answered with the first call. They lived
 * in Redis before, where a restart (or an eviction) lost them and a client's
 * retry dialed the callee a second time; here they last as long as the call
 * records do. The index serves the hourly delete of answers past their day.
 * Frozen once shipped.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbound_requests', (table) => {
    table.text('key_hash').primary();
    table.text('request_hash').notNullable();
    table.text('state').notNullable();
    table.integer('status').nullable();
    table.jsonb('body').nullable();
    table.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('answered_at', { useTz: true }).nullable();
    table.index(['started_at'], 'outbound_requests_started_at');
  });
  await knex.raw(`
    alter table outbound_requests add constraint outbound_requests_state_check check (
      (state = 'in_flight' and status is null) or (state = 'answered' and status is not null)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('outbound_requests');
}
