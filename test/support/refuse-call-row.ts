/**
 * A real Postgres refusal of one call's row: a CHECK constraint on `calls` that only that CallSid
 * can break, NOT VALID so the rows already there are not checked. Every write of the row that
 * leaves `allowed` false is refused, with the constraint's name (`<prefix>_<callsid>`) in the error,
 * until the returned function drops it.
 */
import type { Knex } from 'knex';

export async function refuseCallRow(
  knex: Knex,
  callSid: string,
  prefix: string,
  /** SQL on the row's columns: what the row may still become, e.g. `status <> 'failed'`. */
  allowed: string,
): Promise<() => Promise<void>> {
  const name = `${prefix}_${callSid.toLowerCase()}`;
  await knex.raw(`ALTER TABLE calls ADD CONSTRAINT ${name} CHECK (call_sid <> '${callSid}' OR ${allowed}) NOT VALID`);
  return async () => {
    await knex.raw(`ALTER TABLE calls DROP CONSTRAINT IF EXISTS ${name}`);
  };
}
