/**
 * Call records. Three services write the same row at different moments and any
 * of them may come first (or twice: Twilio retries webhooks), so every write is
 * an idempotent upsert and a later write fills gaps without erasing what an
 * earlier one knew.
 */
import type { Knex } from 'knex';
import type { CallDirection, CallEndStatus, CallStatus, PromptPath, UnansweredStatus } from '../domain.js';
import { toCall } from './call-row.js';
import type { Call, CallUsage, TranscriptTurn } from './call-row.js';

const CALLS = 'calls';

export interface CallReceived {
  callSid: string;
  /** Null for a number no business owns: the call still gets a row. */
  businessId: string | null;
  direction: CallDirection;
  from: string;
  to: string;
  status: CallStatus;
  /** Webhook time; defaults to the database's now(). */
  receivedAt?: Date;
}

export interface StreamStarted {
  at: Date;
  gatewayInstance: string;
}

export interface CallEnded {
  endedAt: Date;
  status: CallEndStatus;
  endReason: string | null;
  rxFrames: number;
  txFrames: number;
  isGhost: boolean;
  silentFailure: boolean;
  promptPath?: PromptPath | null;
  openaiConnectMs?: number | null;
  firstGreetingAudioMs?: number | null;
  /** Merged (shallowly) into what the row already holds. */
  metrics?: Record<string, unknown>;
  bridgeInstance?: string | null;
  /** Token usage summed over the call's responses; cost at the bridge's configured prices. */
  usage?: CallUsage;
  costUsd?: number | null;
  /** Both sides' turns, from the conversation record. */
  transcript?: TranscriptTurn[] | null;
  /** Only used when the webhook row is missing, to fill what it would have said. */
  businessId?: string | null;
  direction?: CallDirection | null;
  from?: string | null;
  to?: string | null;
}

export interface CallPlaced {
  callSid: string;
  businessId: string;
  /** The business number the call is placed from, and the callee. */
  from: string;
  to: string;
}

export interface CallUnanswered {
  /** How Twilio says it ended: busy, no_answer, failed, canceled; or completed (answered, no stream ever). */
  status: UnansweredStatus;
  endedAt: Date;
  endReason: string;
  /** Twilio's CallDuration (seconds), when it said. */
  durationMs?: number | null;
}

/** The voice webhook answered a call with the spoken fallback (Redis down, an error, its deadline). */
export interface CallRefusedByWebhook {
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  endedAt: Date;
  /** `fallback:webhook_<reason>`. */
  endReason: string;
}

export interface CallRepository {
  /**
   * Records the voice webhook. A retried webhook neither fails nor duplicates:
   * resolves true when this call's webhook details were recorded now, false
   * when they already were.
   */
  recordReceived(input: CallReceived): Promise<boolean>;
  /** Notes that Twilio's media stream started (creates the row if the webhook's is missing). */
  markStreamStarted(callSid: string, input: StreamStarted): Promise<void>;
  /** Records how the call ended, creating the row if nothing wrote it before. */
  recordEnded(callSid: string, input: CallEnded): Promise<Call>;
  /**
   * Ends, as failed with `endReason`, calls answered between `answeredAfter` and `answeredBefore`
   * whose media stream never started, and returns them. Atomic per row (SKIP LOCKED), so several
   * webhook replicas sweeping at once each end a call at most once between them.
   */
  failNeverStarted(input: {
    answeredBefore: Date;
    answeredAfter: Date;
    limit: number;
    endReason: string;
  }): Promise<Array<{ callSid: string; receivedAt: Date }>>;
  findByCallSid(callSid: string): Promise<Call | null>;
  /**
   * An outbound call Twilio accepted and is dialing (status placed). `received_at` stays null:
   * the callee's answer (the voice webhook) sets it and moves the call to received, which is when
   * the stream watchdog starts counting; ringing is not a stream that failed to start.
   */
  recordPlaced(input: CallPlaced): Promise<void>;
  /** Twilio's answering machine detection result (human, machine_end_beep, fax, unknown, ...). */
  recordAnsweredBy(callSid: string, answeredBy: string): Promise<void>;
  /**
   * Ends an outbound call that never had a media stream (Twilio's status callback: busy,
   * no-answer, failed, canceled, or completed without a stream). One conditional statement: a
   * call that had a stream or has already ended is left to whoever ended it (the bridge), so a
   * call is finalized once. Resolves with the row when this call ended it, null otherwise.
   */
  recordUnanswered(callSid: string, input: CallUnanswered): Promise<Call | null>;
  /**
   * Ends, as failed, a call the voice webhook answered with the spoken fallback: it never gets a
   * stream. Creates the row when the webhook's work got no further (the business stays null until a
   * late write fills it in); a row that work wrote as `received` is ended, so the stream watchdog
   * does not take it for a stream that never started. A call already ended or streaming is left alone.
   */
  recordWebhookFallback(callSid: string, input: CallRefusedByWebhook): Promise<void>;
  /**
   * Claims, for the placed-call sweep, outbound calls still `placed` (no answer, no final status)
   * that were placed between the two times and not asked about since `checkedBefore`: their status
   * callbacks were lost, so the sweep asks Twilio instead. Claiming stamps `placed_checked_at`
   * with FOR UPDATE SKIP LOCKED, so replicas sweeping at once get different calls and a call just
   * asked about is left alone until `checkedBefore` passes it. Never asked first, then asked
   * longest ago, then oldest.
   */
  claimStalePlaced(input: {
    placedBefore: Date;
    placedAfter: Date;
    checkedBefore: Date;
    limit: number;
  }): Promise<Array<{ callSid: string; placedAt: Date }>>;
}

export function createCallRepository(knex: Knex): CallRepository {
  /** Keep the stored value; take the incoming one only where nothing is stored. */
  const keep = (column: string): Knex.Raw => knex.raw('coalesce(??, ??)', [`${CALLS}.${column}`, `excluded.${column}`]);
  /** Take the incoming value unless it is null. */
  const update = (column: string): Knex.Raw =>
    knex.raw('coalesce(??, ??)', [`excluded.${column}`, `${CALLS}.${column}`]);
  const overwrite = (column: string): Knex.Raw => knex.raw('??', [`excluded.${column}`]);
  /** The end of a call that never had a stream, over whatever row an earlier stage wrote. */
  const endedWithoutStream = () => ({
    status: overwrite('status'),
    ended_at: overwrite('ended_at'),
    end_reason: overwrite('end_reason'),
    silent_failure: overwrite('silent_failure'),
  });

  return {
    async recordReceived(input) {
      const rows: unknown[] = await knex(CALLS)
        .insert({
          call_sid: input.callSid,
          business_id: input.businessId,
          direction: input.direction,
          from_number: input.from,
          to_number: input.to,
          status: input.status,
          received_at: input.receivedAt ?? knex.fn.now(),
        })
        .onConflict('call_sid')
        // A row created by a later stage (stream start, call end) before the
        // webhook's insert landed gets the webhook's details filled in; a row
        // the webhook already wrote is left alone, so a retry is a no-op.
        .merge({
          business_id: keep('business_id'),
          direction: keep('direction'),
          from_number: keep('from_number'),
          to_number: keep('to_number'),
          received_at: overwrite('received_at'),
          // An outbound call that was placed is answered now: it waits for its stream like any call.
          status: knex.raw(`case when ??.status = 'placed' then excluded.status else ??.status end`, [CALLS, CALLS]),
        })
        .whereNull(`${CALLS}.received_at`)
        .returning('call_sid');
      return rows.length > 0;
    },

    async markStreamStarted(callSid, input) {
      await knex(CALLS)
        .insert({
          call_sid: callSid,
          status: 'in_progress',
          stream_started_at: input.at,
          gateway_instance: input.gatewayInstance,
        })
        .onConflict('call_sid')
        .merge({
          // The first START is when the caller's audio began flowing.
          stream_started_at: keep('stream_started_at'),
          gateway_instance: overwrite('gateway_instance'),
          // Never move a call that already ended back to in progress.
          status: knex.raw(`case when ??.status = 'received' then 'in_progress' else ??.status end`, [CALLS, CALLS]),
        });
    },

    async recordEnded(callSid, input) {
      const [row]: unknown[] = await knex(CALLS)
        .insert({
          call_sid: callSid,
          business_id: input.businessId ?? null,
          direction: input.direction ?? null,
          from_number: input.from ?? null,
          to_number: input.to ?? null,
          status: input.status,
          ended_at: input.endedAt,
          end_reason: input.endReason,
          rx_frames: input.rxFrames,
          tx_frames: input.txFrames,
          is_ghost: input.isGhost,
          silent_failure: input.silentFailure,
          prompt_path: input.promptPath ?? null,
          openai_connect_ms: input.openaiConnectMs ?? null,
          first_greeting_audio_ms: input.firstGreetingAudioMs ?? null,
          // Serialised here: pg would turn a top-level array into a PostgreSQL array.
          metrics: JSON.stringify(input.metrics ?? {}),
          bridge_instance: input.bridgeInstance ?? null,
          ...(input.usage ? { usage: JSON.stringify(input.usage) } : {}),
          cost_usd: input.costUsd ?? null,
          // Serialised here too: a top-level array.
          transcript: input.transcript ? JSON.stringify(input.transcript) : null,
        })
        .onConflict('call_sid')
        .merge({
          business_id: keep('business_id'),
          direction: keep('direction'),
          from_number: keep('from_number'),
          to_number: keep('to_number'),
          status: overwrite('status'),
          ended_at: overwrite('ended_at'),
          end_reason: update('end_reason'),
          rx_frames: overwrite('rx_frames'),
          tx_frames: overwrite('tx_frames'),
          is_ghost: overwrite('is_ghost'),
          silent_failure: overwrite('silent_failure'),
          prompt_path: update('prompt_path'),
          openai_connect_ms: update('openai_connect_ms'),
          first_greeting_audio_ms: update('first_greeting_audio_ms'),
          metrics: knex.raw('??.metrics || excluded.metrics', [CALLS]),
          bridge_instance: update('bridge_instance'),
          ...(input.usage ? { usage: overwrite('usage') } : {}),
          cost_usd: update('cost_usd'),
          transcript: update('transcript'),
        })
        .returning('*');
      return toCall(row);
    },

    async failNeverStarted({ answeredBefore, answeredAfter, limit, endReason }) {
      const waiting = knex(CALLS)
        .select('call_sid')
        .where('status', 'received')
        .whereNull('stream_started_at')
        .whereNull('ended_at')
        .where('received_at', '<', answeredBefore)
        .where('received_at', '>', answeredAfter)
        .orderBy('received_at')
        .limit(limit)
        .forUpdate()
        .skipLocked();
      const rows = (await knex(CALLS)
        .whereIn('call_sid', waiting)
        .update({ status: 'failed', ended_at: knex.fn.now(), end_reason: endReason, silent_failure: false })
        .returning(['call_sid', 'received_at'])) as Array<{ call_sid: string; received_at: Date }>;
      return rows.map((r) => ({ callSid: r.call_sid, receivedAt: r.received_at }));
    },

    async recordPlaced(input) {
      await knex(CALLS)
        .insert({
          call_sid: input.callSid,
          business_id: input.businessId,
          direction: 'outbound',
          from_number: input.from,
          to_number: input.to,
          status: 'placed',
        })
        // Twilio's answer can race this write: whatever is there already knows more.
        .onConflict('call_sid')
        .merge({
          business_id: keep('business_id'),
          direction: keep('direction'),
          from_number: keep('from_number'),
          to_number: keep('to_number'),
        });
    },

    async claimStalePlaced({ placedBefore, placedAfter, checkedBefore, limit }) {
      const due = knex(CALLS)
        .select('call_sid')
        .where('status', 'placed')
        .whereNull('ended_at')
        .where('created_at', '<', placedBefore)
        .where('created_at', '>', placedAfter)
        .where((q) => q.whereNull('placed_checked_at').orWhere('placed_checked_at', '<', checkedBefore))
        .orderByRaw('placed_checked_at asc nulls first, created_at asc')
        .limit(limit)
        .forUpdate()
        .skipLocked();
      const rows = (await knex(CALLS)
        .whereIn('call_sid', due)
        .update({ placed_checked_at: knex.fn.now() })
        .returning(['call_sid', 'created_at'])) as Array<{ call_sid: string; created_at: Date }>;
      // RETURNING keeps no order.
      return rows
        .map((r) => ({ callSid: r.call_sid, placedAt: r.created_at }))
        .sort((a, b) => a.placedAt.getTime() - b.placedAt.getTime());
    },

    async recordAnsweredBy(callSid, answeredBy) {
      // Twilio detects after the answer, so the placement's row is there.
      await knex(CALLS).where({ call_sid: callSid }).update({ answered_by: answeredBy });
    },

    async recordUnanswered(callSid, input) {
      const rows: unknown[] = await knex(CALLS)
        .insert({
          call_sid: callSid,
          direction: 'outbound',
          status: input.status,
          ended_at: input.endedAt,
          end_reason: input.endReason,
          silent_failure: false,
          metrics: JSON.stringify(input.durationMs == null ? {} : { twilio_duration_ms: input.durationMs }),
        })
        // Usually the placement's row is there; a status callback that beats its write creates it
        // (the placement's late write then only fills the business and numbers in).
        .onConflict('call_sid')
        .merge({ ...endedWithoutStream(), metrics: knex.raw('??.metrics || excluded.metrics', [CALLS]) })
        .whereNull(`${CALLS}.ended_at`)
        .whereNull(`${CALLS}.stream_started_at`)
        .returning('*');
      return rows.length === 0 ? null : toCall(rows[0]);
    },

    async recordWebhookFallback(callSid, input) {
      await knex(CALLS)
        .insert({
          call_sid: callSid,
          direction: input.direction,
          from_number: input.from,
          to_number: input.to,
          status: 'failed',
          ended_at: input.endedAt,
          end_reason: input.endReason,
          silent_failure: false,
        })
        .onConflict('call_sid')
        .merge(endedWithoutStream())
        .whereNull(`${CALLS}.ended_at`)
        .whereNull(`${CALLS}.stream_started_at`);
    },

    async findByCallSid(callSid) {
      const row: unknown = await knex(CALLS).where({ call_sid: callSid }).first();
      return row === undefined ? null : toCall(row);
    },
  };
}
