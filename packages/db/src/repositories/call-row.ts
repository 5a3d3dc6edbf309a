/**
 * The `calls` row as PostgreSQL returns it, validated on read and mapped to the
 * camelCase domain object.
 */
import { z } from 'zod';
import { CALL_DIRECTIONS, CALL_STATUSES, PROMPT_PATHS } from '../domain.js';
import type { CallDirection, CallStatus, PromptPath } from '../domain.js';

export interface Call {
  callSid: string;
  /** Null when the called number belongs to no business (or the webhook row never landed). */
  businessId: string | null;
  direction: CallDirection | null;
  from: string | null;
  to: string | null;
  status: CallStatus;
  /** When the voice webhook arrived; null if the row was created later in the call. */
  receivedAt: Date | null;
  streamStartedAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
  rxFrames: number;
  txFrames: number;
  /** A socket that never sent START nor any traffic. */
  isGhost: boolean;
  /** A real call that sent the caller no audio. */
  silentFailure: boolean;
  promptPath: PromptPath | null;
  openaiConnectMs: number | null;
  firstGreetingAudioMs: number | null;
  /** The full latency breakdown, as the bridge reported it. */
  metrics: Record<string, unknown>;
  gatewayInstance: string | null;
  bridgeInstance: string | null;
  /** Twilio's AnsweredBy for an outbound call with AMD (human, machine_end_beep, fax, ...). */
  answeredBy: string | null;
  /** Token usage summed over every response.done of the call. */
  usage: CallUsage;
  /** Cost of `usage` at the configured per-token prices, in US dollars. */
  costUsd: number | null;
  /** Both sides' turns, in order; null until the call has been finalized. */
  transcript: TranscriptTurn[] | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Token counts from `response.done.response.usage`, summed per call (absent fields: 0). */
export const callUsageSchema = z.object({
  input_tokens: z.number().int().nonnegative().default(0),
  output_tokens: z.number().int().nonnegative().default(0),
  input_text_tokens: z.number().int().nonnegative().default(0),
  input_audio_tokens: z.number().int().nonnegative().default(0),
  input_cached_tokens: z.number().int().nonnegative().default(0),
  /** The cached tokens split by modality (priced alike today, but listed apart by OpenAI). */
  input_cached_text_tokens: z.number().int().nonnegative().default(0),
  input_cached_audio_tokens: z.number().int().nonnegative().default(0),
  output_text_tokens: z.number().int().nonnegative().default(0),
  output_audio_tokens: z.number().int().nonnegative().default(0),
  responses: z.number().int().nonnegative().default(0),
});
export type CallUsage = z.output<typeof callUsageSchema>;

export const TRANSCRIPT_ROLES = ['caller', 'agent', 'tool'] as const;
export const transcriptTurnSchema = z.object({
  role: z.enum(TRANSCRIPT_ROLES),
  text: z.string(),
  /** ISO 8601 time the turn completed. */
  at: z.string(),
});
export type TranscriptTurn = z.output<typeof transcriptTurnSchema>;

const callRow = z.object({
  call_sid: z.string(),
  business_id: z.string().nullable(),
  direction: z.enum(CALL_DIRECTIONS).nullable(),
  from_number: z.string().nullable(),
  to_number: z.string().nullable(),
  status: z.enum(CALL_STATUSES),
  received_at: z.date().nullable(),
  stream_started_at: z.date().nullable(),
  ended_at: z.date().nullable(),
  end_reason: z.string().nullable(),
  rx_frames: z.number().int(),
  tx_frames: z.number().int(),
  is_ghost: z.boolean(),
  silent_failure: z.boolean(),
  prompt_path: z.enum(PROMPT_PATHS).nullable(),
  openai_connect_ms: z.number().int().nullable(),
  first_greeting_audio_ms: z.number().int().nullable(),
  metrics: z.record(z.string(), z.unknown()),
  gateway_instance: z.string().nullable(),
  bridge_instance: z.string().nullable(),
  answered_by: z.string().nullable(),
  usage: callUsageSchema,
  // pg returns numeric as a string, to keep its precision.
  cost_usd: z.union([z.string(), z.number()]).nullable(),
  transcript: z.array(transcriptTurnSchema).nullable(),
  created_at: z.date(),
  updated_at: z.date(),
});

export function toCall(raw: unknown): Call {
  const row = callRow.parse(raw);
  return {
    callSid: row.call_sid,
    businessId: row.business_id,
    direction: row.direction,
    from: row.from_number,
    to: row.to_number,
    status: row.status,
    receivedAt: row.received_at,
    streamStartedAt: row.stream_started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    rxFrames: row.rx_frames,
    txFrames: row.tx_frames,
    isGhost: row.is_ghost,
    silentFailure: row.silent_failure,
    promptPath: row.prompt_path,
    openaiConnectMs: row.openai_connect_ms,
    firstGreetingAudioMs: row.first_greeting_audio_ms,
    metrics: row.metrics,
    gatewayInstance: row.gateway_instance,
    bridgeInstance: row.bridge_instance,
    answeredBy: row.answered_by,
    usage: row.usage,
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    transcript: row.transcript,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
