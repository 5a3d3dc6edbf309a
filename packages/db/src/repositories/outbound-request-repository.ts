/**
 * What became of each POST /calls made with an `Idempotency-Key` (table
 * outbound_requests, migration 0009), so a client's retry never dials a callee
 * twice, even across a Redis restart or a webhook that died mid-placement.
 * Every time here is the database's clock, so webhook replicas whose clocks
 * differ agree on what has expired.
 */
import type { Knex } from 'knex';

const TABLE = 'outbound_requests';

/**
 * SQL that is true for a row started more than `?` seconds ago, by the database's clock. `column`
 * is qualified where the query also sees `excluded` (an upsert), where a bare name is ambiguous.
 */
function startedOverSecondsAgo(column = 'started_at'): string {
  return `${column} < now() - make_interval(secs => ?)`;
}

/** An answer kept for a key: the HTTP status and JSON body a retry is given. */
export interface KeptAnswer {
  status: number;
  body: unknown;
}

export type OutboundRequestStart =
  /** The key is this request's: place the call, then keep() or forget(). */
  | { kind: 'new' }
  /** Another request with the key is placing its call now. */
  | { kind: 'in_flight' }
  /** The key was given with another request (another callee, another business): neither placed nor replayed. */
  | { kind: 'mismatch' }
  /**
   * The key's answer, to replay. `abandoned`: the request that held the key stopped before it
   * answered (its webhook died) and this call gave it `abandonedAnswer`.
   */
  | { kind: 'replay'; answer: KeptAnswer; abandoned: boolean };

export interface OutboundRequestTimings {
  /** An answer is replayed this long; after that the key starts a new request. */
  keepSeconds: number;
  /** A request still in flight after this long has stopped (its webhook died): it gets `abandonedAnswer`. */
  inFlightSeconds: number;
  /** What a retry of an abandoned request is told (Twilio may or may not have dialed). */
  abandonedAnswer: KeptAnswer;
}

export interface OutboundRequestRepository {
  /** `requestHash`: the request's fingerprint; a key is only ever answered for the request it came with. */
  start(keyHash: string, requestHash: string, timings: OutboundRequestTimings): Promise<OutboundRequestStart>;
  /** The request that holds the key answered: replay this to its retries. */
  keep(keyHash: string, answer: KeptAnswer): Promise<void>;
  /** The request dialed nobody: the key is free for another try. */
  forget(keyHash: string): Promise<void>;
  /** Deletes answers older than `keepSeconds` (at most `limit`); returns how many went. */
  deleteExpired(keepSeconds: number, limit: number): Promise<number>;
}

interface Row {
  request_hash: string;
  state: 'in_flight' | 'answered';
  status: number | null;
  body: unknown;
  /** Started more than inFlightSeconds ago. */
  stale: boolean;
}

export function createOutboundRequestRepository(knex: Knex): OutboundRequestRepository {
  /** Takes the key if nobody has it, or if its last answer has expired. */
  async function claim(keyHash: string, requestHash: string, keepSeconds: number): Promise<boolean> {
    const result = await knex.raw<{ rows: unknown[] }>(
      `insert into ${TABLE} (key_hash, request_hash, state) values (?, ?, 'in_flight')
       on conflict (key_hash) do update
         set request_hash = excluded.request_hash, state = 'in_flight', status = null, body = null,
             started_at = now(), answered_at = null
         where ${startedOverSecondsAgo(`${TABLE}.started_at`)}
       returning key_hash`,
      [keyHash, requestHash, keepSeconds],
    );
    return result.rows.length > 0;
  }

  /**
   * Answers the key's request while it is still in flight; with `startedSecondsAgo`, only if it
   * started at least that long ago (an abandoned one). True if this call answered it.
   */
  async function answerInFlight(keyHash: string, answer: KeptAnswer, startedSecondsAgo?: number): Promise<boolean> {
    const query = knex(TABLE).where({ key_hash: keyHash, state: 'in_flight' });
    if (startedSecondsAgo !== undefined) query.andWhereRaw(startedOverSecondsAgo(), [startedSecondsAgo]);
    const answered = await query.update({
      state: 'answered',
      status: answer.status,
      body: JSON.stringify(answer.body),
      answered_at: knex.fn.now(),
    });
    return answered > 0;
  }

  return {
    async start(keyHash, requestHash, timings) {
      for (;;) {
        if (await claim(keyHash, requestHash, timings.keepSeconds)) return { kind: 'new' };
        const row = await knex(TABLE)
          .where({ key_hash: keyHash })
          .first<Row | undefined>(
            'request_hash',
            'state',
            'status',
            'body',
            knex.raw(`${startedOverSecondsAgo()} as stale`, [timings.inFlightSeconds]),
          );
        // Forgotten since the claim (its request dialed nobody): try to take it again.
        if (!row) continue;
        if (row.request_hash !== requestHash) return { kind: 'mismatch' };
        if (row.state === 'answered')
          return { kind: 'replay', answer: { status: row.status!, body: row.body }, abandoned: false };
        if (!row.stale) return { kind: 'in_flight' };
        // In flight for longer than any placement takes: its webhook died. Whoever settles it first
        // says so; anyone else (or an answer that landed meanwhile) is read again.
        if (await answerInFlight(keyHash, timings.abandonedAnswer, timings.inFlightSeconds))
          return { kind: 'replay', answer: timings.abandonedAnswer, abandoned: true };
      }
    },

    async keep(keyHash, answer) {
      await answerInFlight(keyHash, answer);
    },

    async forget(keyHash) {
      await knex(TABLE).where({ key_hash: keyHash, state: 'in_flight' }).delete();
    },

    async deleteExpired(keepSeconds, limit) {
      const result = await knex.raw<{ rowCount: number }>(
        `delete from ${TABLE} where key_hash in (
           select key_hash from ${TABLE} where ${startedOverSecondsAgo()} limit ?
         )`,
        [keepSeconds, limit],
      );
      return result.rowCount;
    },
  };
}
