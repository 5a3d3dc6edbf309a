/**
 * What the end of a call writes from its conversation record: the transcript
 * (both sides' turns and the tool calls, with times), the summed token usage
 * and its cost. The record is read back from Redis, so turns a previous bridge
 * recorded before a hand-over are in it; if Redis cannot be read (or has lost
 * writes), this bridge's mirror is used.
 */
import type { CallUsage, TranscriptTurn } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { readConversation, type ConversationEntry, type RedisClient } from '@voice/redis';
import type { TokenPrices } from '../config.js';
import type { ConversationRecord } from './conversation-record.js';
import { costUsd, sumUsage } from './usage-cost.js';

export interface CallOutcome {
  transcript: TranscriptTurn[];
  usage: CallUsage;
  costUsd: number;
  sessions: number;
}

const INTERRUPTED_MARK = ' [interrupted]';

export async function callOutcome(
  deps: { redis: RedisClient; logger: Logger },
  callSid: string,
  mirror: ConversationRecord,
  prices: TokenPrices,
): Promise<CallOutcome> {
  const entries = await recordedEntries(deps, callSid, mirror);
  const usage = sumUsage(entries);
  return {
    transcript: entries.flatMap(toTurn),
    usage,
    costUsd: costUsd(usage, prices),
    sessions: entries.filter((e) => e.kind === 'session').length,
  };
}

async function recordedEntries(
  deps: { redis: RedisClient; logger: Logger },
  callSid: string,
  mirror: ConversationRecord,
): Promise<readonly ConversationEntry[]> {
  try {
    const { entries, invalid } = await readConversation(deps.redis, callSid);
    if (invalid.length > 0) deps.logger.warn('conversation record entries skipped', { invalid: invalid.length });
    return entries.length >= mirror.all().length ? entries : mirror.all();
  } catch (err) {
    deps.logger.error("conversation record read failed; using this bridge's copy", errorFields(err));
    return mirror.all();
  }
}

function toTurn(e: ConversationEntry): TranscriptTurn[] {
  const at = new Date(e.ts).toISOString();
  switch (e.kind) {
    case 'caller':
      return [{ role: 'caller', text: e.text, at }];
    case 'agent':
      return [{ role: 'agent', text: e.interrupted ? e.text + INTERRUPTED_MARK : e.text, at }];
    case 'tool_call':
      return [{ role: 'tool', text: `${e.name}(${e.arguments})`, at }];
    case 'tool_result':
      return [{ role: 'tool', text: `${e.name} -> ${e.output}`, at }];
    default:
      return [];
  }
}
