/**
 * Entries on the shared claim stream (`<ns>:calls:claims`): a call that needs a
 * bridge. The gateway writes one on START; one bridge's consumer claims it.
 */
import { fieldsToRecord, requireField, requireNumber } from './stream-entry.js';

/**
 * prebuilt: the prompt is ready while the phone rings; a bridge may open a warm session now.
 * started: the gateway received START; the call needs an owner if it has none (or a dead one).
 */
export type ClaimReason = 'started' | 'prebuilt';

export interface ClaimEntry {
  callSid: string;
  reason: ClaimReason;
  /** Epoch ms the claim was published (stale claims are skipped). */
  at: number;
}

export function encodeClaim(entry: ClaimEntry): string[] {
  return ['callSid', entry.callSid, 'reason', entry.reason, 'at', String(entry.at)];
}

export function decodeClaim(id: string, fields: string[]): ClaimEntry {
  const r = fieldsToRecord(fields);
  const reason = requireField(id, r, 'reason');
  return {
    callSid: requireField(id, r, 'callSid'),
    reason: reason === 'prebuilt' ? 'prebuilt' : 'started',
    at: requireNumber(id, r, 'at'),
  };
}

export const CLAIM_STREAM_MAXLEN = 10_000;
