/**
 * Entries on the shared claim stream (`{ns}:calls:claims`): a call that needs
 * a bridge. Read by the bridges' consumer group, so exactly one bridge with
 * room sees each entry; the owner key (SET NX) settles any race.
 *
 * - prebuilt: written by the webhook's prebuild job while the phone rings; a
 *   bridge may open a warm session and hold the greeting until the stream attaches.
 * - started: written by the gateway on START when the call has no live owner
 *   (or its owner's link died); `gateway` names who holds the Twilio socket, so the
 *   bridge that takes the call tells that gateway over their media link.
 */
import { fieldsToRecord, optionalField, requireField, requireNumber, InvalidStreamEntryError } from './stream-entry.js';

export type ClaimReason = 'started' | 'prebuilt';

export interface ClaimEntry {
  callSid: string;
  reason: ClaimReason;
  /** Epoch ms the claim was published (stale claims are skipped). */
  at: number;
  /** started: the gateway instance holding the caller's socket. */
  gateway?: string;
  /** started: the owner whose link the gateway lost; the new bridge may take the call over from it. */
  previousOwner?: string;
}

export function encodeClaim(entry: ClaimEntry): string[] {
  const fields = ['callSid', entry.callSid, 'reason', entry.reason, 'at', String(entry.at)];
  if (entry.gateway) fields.push('gateway', entry.gateway);
  if (entry.previousOwner) fields.push('previousOwner', entry.previousOwner);
  return fields;
}

export function decodeClaim(id: string, fields: string[]): ClaimEntry {
  const r = fieldsToRecord(fields);
  const reason = requireField(id, r, 'reason');
  if (reason !== 'prebuilt' && reason !== 'started')
    throw new InvalidStreamEntryError(id, `unknown claim reason "${reason}"`);
  const gateway = optionalField(r, 'gateway');
  if (reason === 'started' && !gateway) throw new InvalidStreamEntryError(id, 'a started claim must name its gateway');
  const previousOwner = optionalField(r, 'previousOwner');
  return {
    callSid: requireField(id, r, 'callSid'),
    reason,
    at: requireNumber(id, r, 'at'),
    ...(gateway ? { gateway } : {}),
    ...(previousOwner ? { previousOwner } : {}),
  };
}

export const CLAIM_STREAM_MAXLEN = 10_000;
