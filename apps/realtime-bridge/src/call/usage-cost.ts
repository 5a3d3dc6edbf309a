/**
 * Token usage and what it cost: each `response.done`'s usage becomes one
 * `usage` entry of the conversation record; at the end of the call they are
 * summed (whichever bridges served the call) and priced per 1M tokens.
 */
import type { RealtimeResponseUsage } from 'openai/resources/realtime/realtime';
import type { CallUsage } from '@voice/db';
import type { ConversationEntry, UsageEntry } from '@voice/redis';
import type { TokenPrices } from '../config.js';

const TOKENS_PER_PRICE_UNIT = 1_000_000;
/** cost_usd is numeric(12, 6): micro-dollars. */
const COST_DECIMALS = 6;

export type UsageFields = Omit<UsageEntry, 'kind' | 'ts' | 'response_id'>;

/** The flat usage fields of one response.done (absent counts are 0). */
export function usageFields(usage: RealtimeResponseUsage | null | undefined): UsageFields {
  const input = usage?.input_token_details;
  const cached = input?.cached_tokens ?? 0;
  const cachedAudio = input?.cached_tokens_details?.audio_tokens ?? 0;
  // Without the split, cached tokens are taken as text (the instructions and tools are the cached prefix).
  const cachedText = input?.cached_tokens_details?.text_tokens ?? Math.max(0, cached - cachedAudio);
  return {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    input_text_tokens: input?.text_tokens ?? 0,
    input_audio_tokens: input?.audio_tokens ?? 0,
    input_cached_tokens: cached,
    input_cached_text_tokens: cachedText,
    input_cached_audio_tokens: cachedAudio,
    output_text_tokens: usage?.output_token_details?.text_tokens ?? 0,
    output_audio_tokens: usage?.output_token_details?.audio_tokens ?? 0,
  };
}

export function sumUsage(entries: readonly ConversationEntry[]): CallUsage {
  const total: CallUsage = {
    input_tokens: 0,
    output_tokens: 0,
    input_text_tokens: 0,
    input_audio_tokens: 0,
    input_cached_tokens: 0,
    input_cached_text_tokens: 0,
    input_cached_audio_tokens: 0,
    output_text_tokens: 0,
    output_audio_tokens: 0,
    responses: 0,
  };
  for (const e of entries) {
    if (e.kind !== 'usage') continue;
    total.responses += 1;
    total.input_tokens += e.input_tokens;
    total.output_tokens += e.output_tokens;
    total.input_text_tokens += e.input_text_tokens;
    total.input_audio_tokens += e.input_audio_tokens;
    total.input_cached_tokens += e.input_cached_tokens;
    total.input_cached_text_tokens += e.input_cached_text_tokens;
    total.input_cached_audio_tokens += e.input_cached_audio_tokens;
    total.output_text_tokens += e.output_text_tokens;
    total.output_audio_tokens += e.output_audio_tokens;
  }
  return total;
}

/** Cached tokens are a subset of input tokens, billed at the cached price instead. */
export function costUsd(u: CallUsage, prices: TokenPrices): number {
  const cachedText = Math.min(u.input_cached_text_tokens, u.input_text_tokens);
  const cachedAudio = Math.min(u.input_cached_audio_tokens, u.input_audio_tokens);
  const dollars =
    (u.input_text_tokens - cachedText) * prices.textInput +
    cachedText * prices.textInputCached +
    (u.input_audio_tokens - cachedAudio) * prices.audioInput +
    cachedAudio * prices.audioInputCached +
    u.output_text_tokens * prices.textOutput +
    u.output_audio_tokens * prices.audioOutput;
  return Number((dollars / TOKENS_PER_PRICE_UNIT).toFixed(COST_DECIMALS));
}
