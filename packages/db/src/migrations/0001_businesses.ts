/**
 * Businesses and the phone numbers that route calls to them, plus the shared
 * `updated_at` trigger function later tables reuse.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // A trigger, not application code, keeps updated_at honest for every writer
  // (repositories, ad-hoc psql fixes by on-call, future services).
  await knex.raw(`
    create or replace function voice_set_updated_at() returns trigger
    language plpgsql as $$
    begin
      new.updated_at = now();
      return new;
    end
    $$`);

  await knex.schema.createTable('businesses', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.text('name').notNullable();
    table.text('ai_prompt').notNullable();
    table.text('outbound_ai_prompt').nullable();
    table.text('greeting').notNullable();
    table.text('voice').notNullable().defaultTo('marin');
    table.boolean('appointment_booking_enabled').notNullable().defaultTo(false);
    table.text('timezone').notNullable().defaultTo('America/New_York');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`
    create trigger businesses_set_updated_at before update on businesses
    for each row execute function voice_set_updated_at()`);

  await knex.schema.createTable('business_phone_numbers', (table) => {
    // The number is the key: one number routes to exactly one business.
    table.text('phone_number').primary().checkRegex('^\\+[1-9][0-9]{1,14}$', 'business_phone_numbers_e164');
    table.uuid('business_id').notNullable().references('id').inTable('businesses').onDelete('CASCADE');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['business_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('business_phone_numbers');
  await knex.schema.dropTable('businesses');
  await knex.raw('drop function voice_set_updated_at()');
}
