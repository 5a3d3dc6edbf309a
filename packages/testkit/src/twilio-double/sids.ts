import { randomBytes } from 'node:crypto';

/** Twilio SIDs are a two-letter type prefix and 32 lowercase hex digits. */
const SID_RANDOM_BYTES = 16;

export function newSid(prefix: 'CA' | 'MZ'): string {
  return prefix + randomBytes(SID_RANDOM_BYTES).toString('hex');
}
