/**
 * Value sets shared by the repositories and their callers. Migrations keep their
 * own literal copies on purpose: a migration is a frozen snapshot and must not
 * change meaning when these lists grow.
 */

export const CALL_DIRECTIONS = ['inbound', 'outbound'] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];

/**
 * placed: an outbound call Twilio is dialing; busy / no_answer / canceled: an
 * outbound call that ended before anyone answered.
 */
export const CALL_STATUSES = [
  'placed',
  'received',
  'in_progress',
  'completed',
  'failed',
  'rejected',
  'busy',
  'no_answer',
  'canceled',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** Statuses a call can end in. */
export const CALL_END_STATUSES = ['completed', 'failed', 'rejected', 'busy', 'no_answer', 'canceled'] as const;
export type CallEndStatus = (typeof CALL_END_STATUSES)[number];

/** How an outbound call that never had a media stream ends (Twilio's status callback says which). */
export const UNANSWERED_STATUSES = ['busy', 'no_answer', 'failed', 'canceled', 'completed'] as const;
export type UnansweredStatus = (typeof UNANSWERED_STATUSES)[number];

/** fast: the prebuilt prompt was in Redis; slow: the bridge built it from the database. */
export const PROMPT_PATHS = ['fast', 'slow'] as const;
export type PromptPath = (typeof PROMPT_PATHS)[number];

/** E.164: a plus, a non-zero country digit, at most 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{1,14}$/;

export const DEFAULT_VOICE = 'marin';
export const DEFAULT_TIMEZONE = 'America/New_York';

/** PostgreSQL's uuid text form; checked before querying so a bad id is "not found", not error 22P02. */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
