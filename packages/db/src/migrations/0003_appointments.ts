/**
 * Appointments booked by the agent. The database, not the application, refuses
 * a second booking of the same slot: two concurrent calls racing for 10:00 get
 * exactly one winner.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('appointments', (table) => {
    table.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    table.uuid('business_id').notNullable().references('id').inTable('businesses').onDelete('CASCADE');
    // No foreign key: the booking happens mid-call and must not depend on the
    // call row having been written yet (those writes are best effort).
    table.text('call_sid').nullable().index();
    table.text('customer_name').notNullable();
    table.text('customer_phone').nullable();
    table.timestamp('starts_at', { useTz: true }).notNullable();
    table.integer('duration_minutes').notNullable().checkPositive('appointments_duration_positive');
    table.text('notes').nullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['business_id', 'starts_at'], { indexName: 'appointments_business_slot_unique' });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('appointments');
}
