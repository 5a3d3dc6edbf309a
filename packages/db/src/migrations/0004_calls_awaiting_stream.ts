/**
 * The stream watchdog's sweep asks "which answered calls never got a media
 * stream?" every few seconds; a partial index keeps that cheap however many
 * finished calls the table holds (it only indexes calls still waiting).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index calls_awaiting_stream on calls (received_at)
    where status = 'received' and stream_started_at is null and ended_at is null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists calls_awaiting_stream');
}
