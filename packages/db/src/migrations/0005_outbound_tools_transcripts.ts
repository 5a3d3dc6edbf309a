/**
 * What a business needs from its phone agent: outbound calls (placed/busy/
 * no-answer states, the AMD answer), the tools it has (end_call, transfer_call,
 * DTMF), its voicemail message and human number, and per call the transcript,
 * token usage and cost.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Knex } from 'knex';

const E164_CHECK = '^\\+[1-9][0-9]{1,14}$';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('businesses', (table) => {
    // Null: the business has no human line, transfer_call is politely refused.
    table.text('transfer_number').nullable().checkRegex(E164_CHECK, 'businesses_transfer_number_e164');
    // What the agent leaves on an answering machine; null: hang up without a message.
    table.text('voicemail_message').nullable();
    table.boolean('end_call_enabled').notNullable().defaultTo(true);
    table.boolean('transfer_call_enabled').notNullable().defaultTo(true);
    table.boolean('dtmf_enabled').notNullable().defaultTo(true);
  });

  // Outbound calls live in the row before anyone answers (placed) and may end
  // without a stream at all (busy, no_answer, canceled).
  await knex.raw('alter table calls drop constraint calls_status_valid');
  await knex.raw(`
    alter table calls add constraint calls_status_valid check (status in
      ('placed', 'received', 'in_progress', 'completed', 'failed', 'rejected', 'busy', 'no_answer', 'canceled'))`);

  await knex.schema.alterTable('calls', (table) => {
    // Twilio's AnsweredBy: human, machine_start, machine_end_beep, ..., fax, unknown.
    table.text('answered_by').nullable();
    // Summed token usage of every response.done: {input_tokens, output_tokens, input_text, input_audio, input_cached, output_text, output_audio}.
    table.jsonb('usage').notNullable().defaultTo(knex.raw("'{}'::jsonb"));
    table.decimal('cost_usd', 12, 6).nullable();
    // Both sides' turns: [{role: 'caller'|'agent'|'tool', text, at}] (at: ISO time).
    table.jsonb('transcript').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('calls', (table) => {
    table.dropColumns('answered_by', 'usage', 'cost_usd', 'transcript');
  });
  await knex.raw('alter table calls drop constraint calls_status_valid');
  await knex.raw(`
    alter table calls add constraint calls_status_valid check (status in
      ('received', 'in_progress', 'completed', 'failed', 'rejected'))`);
  await knex.schema.alterTable('businesses', (table) => {
    table.dropColumns(
      'transfer_number',
      'voicemail_message',
      'end_call_enabled',
      'transfer_call_enabled',
      'dtmf_enabled',
    );
  });
}
