/**
 * `call:{CA}:conversation`: a call's conversation record, one stream entry per
 * completed item, appended by the bridge that owns the call as each item
 * completes (a few XADDs per turn, never per audio frame):
 *
 * - `session`: the settings a session was configured with (instructions, voice,
 *   tools, transcription model), written when each model session is configured;
 * - `caller`: what the caller said (input transcription);
 * - `agent`: what the agent said (output audio transcript; `interrupted=1` when
 *   the caller cut it off, with the words generated up to then);
 * - `tool_call` / `tool_result`: a function call the model made and the output
 *   the bridge gave it;
 * - `usage`: one `response.done`'s token usage, so whoever finalizes the call
 *   (even another bridge after a hand-over) can sum the whole call's usage.
 *
 * It is what a resumed or recycled session replays, what the transcript in
 * Postgres is written from, and what on-call reads after the call:
 * `redis-cli XRANGE 'call:{CA…}:conversation' - +`. Flat string fields; every
 * entry has `kind` and `ts` (epoch ms). Entries are validated on read (zod); an
 * invalid entry is skipped and reported, never fatal.
 */
import { z } from 'zod';
import type { RedisClient } from './connection.js';
import { callKeys } from './keys.js';
import { RecentSet } from './recent-set.js';
import { fieldsToRecord } from './stream-entry.js';

export const CONVERSATION_DEFAULTS = {
  /**
   * The record outlives the call for on-call (and for the transcript write at
   * finalization), then expires: it holds what the caller said, and Postgres
   * keeps the transcript for good. Shorter than the timeline's 7 days.
   */
  ttlSeconds: 24 * 3600,
  /** Bounds a runaway writer: a one-hour call is a few hundred entries. */
  maxLen: 5000,
  /** CallSids this process remembers having given their record a TTL (see Timeline). */
  expiredCallsRemembered: 10_000,
} as const;

const num = z.coerce.number().int().nonnegative();
const flag = z.enum(['0', '1']).transform((v) => v === '1');
const base = { ts: num };

export const conversationEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('session'),
    ...base,
    /** 1 for the call's first model session, then 2, 3... (recycled or resumed sessions). */
    session: num,
    instructions: z.string(),
    voice: z.string(),
    /** Tool names, comma-separated ('' for none). */
    tools: z.string().default(''),
    transcription_model: z.string().default(''),
    /** fast (prebuilt prompt) or slow (built from the database). */
    prompt_path: z.string().default(''),
  }),
  z.object({ kind: z.literal('caller'), ...base, text: z.string(), item_id: z.string().default('') }),
  z.object({
    kind: z.literal('agent'),
    ...base,
    text: z.string(),
    item_id: z.string().default(''),
    interrupted: flag.default(false),
  }),
  z.object({ kind: z.literal('tool_call'), ...base, call_id: z.string(), name: z.string(), arguments: z.string() }),
  z.object({
    kind: z.literal('tool_result'),
    ...base,
    call_id: z.string(),
    name: z.string(),
    output: z.string(),
    ok: flag,
  }),
  z.object({
    kind: z.literal('usage'),
    ...base,
    response_id: z.string().default(''),
    input_tokens: num.default(0),
    output_tokens: num.default(0),
    input_text_tokens: num.default(0),
    input_audio_tokens: num.default(0),
    input_cached_tokens: num.default(0),
    input_cached_text_tokens: num.default(0),
    input_cached_audio_tokens: num.default(0),
    output_text_tokens: num.default(0),
    output_audio_tokens: num.default(0),
  }),
]);

export type ConversationEntry = z.output<typeof conversationEntrySchema>;
export type ConversationKind = ConversationEntry['kind'];
/** What a writer supplies: booleans and numbers are flattened to strings on the way in. */
export type ConversationEntryInput = {
  [K in ConversationKind]: Extract<ConversationEntry, { kind: K }>;
}[ConversationKind];
export type UsageEntry = Extract<ConversationEntry, { kind: 'usage' }>;

export interface ReadConversationResult {
  entries: ConversationEntry[];
  /** Ids of entries that failed validation (skipped). */
  invalid: string[];
}

/** Flat string fields for XADD: `kind` first, booleans as 0/1. */
export function encodeConversationEntry(entry: ConversationEntryInput): string[] {
  const fields: string[] = ['kind', entry.kind];
  for (const [k, v] of Object.entries(entry)) {
    if (k === 'kind' || v === undefined) continue;
    fields.push(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return fields;
}

export function decodeConversationEntry(fields: string[]): ConversationEntry | undefined {
  const parsed = conversationEntrySchema.safeParse(fieldsToRecord(fields));
  return parsed.success ? parsed.data : undefined;
}

export async function readConversation(redis: RedisClient, callSid: string): Promise<ReadConversationResult> {
  const raw = await redis.xrange(callKeys.conversation(callSid), '-', '+');
  const entries: ConversationEntry[] = [];
  const invalid: string[] = [];
  for (const [id, fields] of raw) {
    const entry = decodeConversationEntry(fields);
    if (entry) entries.push(entry);
    else invalid.push(id);
  }
  return { entries, invalid };
}

export interface ConversationWriterOptions {
  redis: RedisClient;
  ttlSeconds?: number;
  maxLen?: number;
  expiredCallsRemembered?: number;
}

/**
 * Appends entries to calls' conversation records: one XADD per entry, plus one
 * EXPIRE on this process's first write to a call's record (as Timeline does).
 * Throws on a failed write: the caller decides (the bridge logs and carries on
 * with its in-memory mirror).
 */
export class ConversationWriter {
  private readonly ttlSeconds: number;
  private readonly maxLen: number;
  private expired: RecentSet<string>;

  constructor(private readonly options: ConversationWriterOptions) {
    this.ttlSeconds = options.ttlSeconds ?? CONVERSATION_DEFAULTS.ttlSeconds;
    this.maxLen = options.maxLen ?? CONVERSATION_DEFAULTS.maxLen;
    const remembered = options.expiredCallsRemembered ?? CONVERSATION_DEFAULTS.expiredCallsRemembered;
    this.expired = new RecentSet(remembered);
    // Redis may have restarted empty: a record written again is a new key, which needs its TTL again.
    options.redis.on('ready', () => {
      this.expired = new RecentSet(remembered);
    });
  }

  /**
   * Rebuilds a call's record from `entries` (the writer's own copy) when Redis holds fewer: after
   * Redis restarted empty, or writes failed while it was down. One MULTI (one key, one slot):
   * appends sent before it on this connection are replaced by it, appends sent after it land
   * behind it, so the record ends up whole and in order. True when it rewrote the record.
   */
  async rebuild(callSid: string, entries: () => readonly ConversationEntryInput[]): Promise<boolean> {
    const key = callKeys.conversation(callSid);
    const { redis } = this.options;
    const stored = await redis.xlen(key);
    // Taken after the read, in the same tick as the MULTI is sent: nothing can slip in between.
    const all = entries();
    if (stored >= all.length) return false;
    const multi = redis.multi().del(key);
    for (const entry of all)
      multi.xadd(key, 'MAXLEN', '~', String(this.maxLen), '*', ...encodeConversationEntry(entry));
    multi.expire(key, this.ttlSeconds);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('conversation record rebuild: MULTI aborted');
    this.expired.add(callSid);
    return true;
  }

  async append(callSid: string, entry: ConversationEntryInput): Promise<void> {
    const key = callKeys.conversation(callSid);
    const { redis } = this.options;
    const needsTtl = !this.expired.has(callSid);
    if (needsTtl) this.expired.add(callSid);
    try {
      const added = redis.xadd(key, 'MAXLEN', '~', String(this.maxLen), '*', ...encodeConversationEntry(entry));
      if (!needsTtl) {
        await added;
        return;
      }
      const [, ttlSet] = await Promise.all([added, redis.expire(key, this.ttlSeconds)]);
      if (ttlSet === 0) this.expired.delete(callSid);
    } catch (err) {
      if (needsTtl) this.expired.delete(callSid);
      throw err;
    }
  }
}
