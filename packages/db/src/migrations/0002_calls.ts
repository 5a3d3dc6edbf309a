/**
 * One row per call, written at three moments: the webhook (received), the
 * gateway (stream started) and the end of the call (counts and metrics).
 * Any of them may be the first to arrive, so nearly every column is nullable.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('calls', (table) => {
    table.text('call_sid').primary();
    // Nullable: a call to a number no business owns still gets a row, and the
    // history outlives a deleted business.
    table.uuid('business_id').nullable().references('id').inTable('businesses').onDelete('SET NULL');
    table.text('direction').nullable().checkIn(['inbound', 'outbound'], 'calls_direction_valid');
    table.text('from_number').nullable();
    table.text('to_number').nullable();
    table
      .text('status')
      .notNullable()
      .checkIn(['received', 'in_progress', 'completed', 'failed', 'rejected'], 'calls_status_valid');
    table.timestamp('received_at', { useTz: true }).nullable();
    table.timestamp('stream_started_at', { useTz: true }).nullable();
    table.timestamp('ended_at', { useTz: true }).nullable();
    table.text('end_reason').nullable();
    table.integer('rx_frames').notNullable().defaultTo(0);
    table.integer('tx_frames').notNullable().defaultTo(0);
    table.boolean('is_ghost').notNullable().defaultTo(false);
    table.boolean('silent_failure').notNullable().defaultTo(false);
    table.text('prompt_path').nullable().checkIn(['fast', 'slow'], 'calls_prompt_path_valid');
    table.integer('openai_connect_ms').nullable();
    table.integer('first_greeting_audio_ms').nullable();
    table.jsonb('metrics').notNullable().defaultTo(knex.raw("'{}'::jsonb"));
    table.text('gateway_instance').nullable();
    table.text('bridge_instance').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // "Recent calls for this business" is the query dashboards and on-call run.
    table.index(['business_id', 'created_at']);
  });
  await knex.raw(`
    create trigger calls_set_updated_at before update on calls
    for each row execute function voice_set_updated_at()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('calls');
}
