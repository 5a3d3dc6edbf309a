/**
 * Read-only questions an on-call engineer asks of the `calls` table (the
 * `npm run calls` CLI): which calls touched a phone number in a time window,
 * which failed lately, which are still live. Indexed by migration 0006.
 */
import type { Knex } from 'knex';
import { toCall } from './call-row.js';
import type { Call } from './call-row.js';

const CALLS = 'calls';

/**
 * End reasons of calls cut by a fault after they were up (the bridge gave up
 * on a gateway that vanished). Fallbacks, silent failures and calls that never
 * started are found by their status and flags.
 */
export const FAULT_END_REASONS: readonly string[] = ['gateway_lost'];
const FALLBACK_END_REASON_PREFIX = 'fallback:';

export interface TimeWindow {
  since: Date;
  /** Defaults to now. */
  until?: Date;
  limit: number;
}

export interface CallSearch {
  /** Calls from or to `number` whose webhook arrived in the window, newest first. */
  byNumber(number: string, window: TimeWindow): Promise<Call[]>;
  /**
   * Calls that ended in the window and failed: fell back, failed silently, never
   * started, or were cut by a fault (ghost sockets are not calls). Newest first.
   */
  failed(window: TimeWindow): Promise<Call[]>;
  /** Calls answered after `receivedAfter` that have not ended, oldest first. */
  notEnded(receivedAfter: Date, limit: number): Promise<Call[]>;
  /** CallSids of calls not ended (answered after `receivedAfter`) or ended after `endedAfter`. */
  activeSince(input: {
    receivedAfter: Date;
    endedAfter: Date;
    limit: number;
  }): Promise<Array<{ callSid: string; endedAt: Date | null }>>;
}

export function createCallSearch(knex: Knex): CallSearch {
  const inWindow = (query: Knex.QueryBuilder, column: string, window: TimeWindow) => {
    query.where(column, '>=', window.since);
    if (window.until) query.where(column, '<=', window.until);
    return query;
  };

  return {
    async byNumber(number, window) {
      const query = knex(CALLS)
        .where((q) => q.where('from_number', number).orWhere('to_number', number))
        .orderBy('received_at', 'desc')
        .limit(window.limit);
      const rows: unknown[] = await inWindow(query, 'received_at', window);
      return rows.map(toCall);
    },

    async failed(window) {
      const query = knex(CALLS)
        .where('is_ghost', false)
        .where((q) =>
          q
            .where('status', 'failed')
            .orWhere('silent_failure', true)
            .orWhere('end_reason', 'like', `${FALLBACK_END_REASON_PREFIX}%`)
            .orWhereIn('end_reason', [...FAULT_END_REASONS]),
        )
        .orderBy('ended_at', 'desc')
        .limit(window.limit);
      const rows: unknown[] = await inWindow(query, 'ended_at', window);
      return rows.map(toCall);
    },

    async notEnded(receivedAfter, limit) {
      const rows: unknown[] = await knex(CALLS)
        .whereNull('ended_at')
        .where('received_at', '>', receivedAfter)
        .orderBy('received_at', 'asc')
        .limit(limit);
      return rows.map(toCall);
    },

    async activeSince({ receivedAfter, endedAfter, limit }) {
      const rows = (await knex(CALLS)
        .select('call_sid', 'ended_at')
        .where((q) => q.whereNull('ended_at').where('received_at', '>', receivedAfter))
        .orWhere('ended_at', '>', endedAfter)
        .orderBy('received_at', 'desc')
        .limit(limit)) as Array<{ call_sid: string; ended_at: Date | null }>;
      return rows.map((r) => ({ callSid: r.call_sid, endedAt: r.ended_at }));
    },
  };
}
