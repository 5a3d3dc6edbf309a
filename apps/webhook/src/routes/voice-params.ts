/** The voice webhook's form parameters, validated before anything is written. */
import { z } from 'zod';

export const voiceWebhookParams = z.object({
  CallSid: z.string().regex(/^CA[0-9a-f]{32}$/i, 'must be a Twilio Call SID (CA + 32 hex)'),
  AccountSid: z.string().regex(/^AC[0-9a-f]{32}$/i, 'must be a Twilio Account SID (AC + 32 hex)'),
  From: z.string().min(1, 'is required'),
  To: z.string().min(1, 'is required'),
  Direction: z.string().default('inbound'),
  CallStatus: z.string().optional(),
});

export type VoiceWebhookParams = z.infer<typeof voiceWebhookParams>;

/** Twilio says `outbound-api` / `outbound-dial` for calls we placed; the business number is then From. */
export function callDirection(params: VoiceWebhookParams): 'inbound' | 'outbound' {
  return params.Direction.startsWith('outbound') ? 'outbound' : 'inbound';
}

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ');
}

export const streamStatusParams = z.object({
  CallSid: z.string().regex(/^CA[0-9a-f]{32}$/i, 'must be a Twilio Call SID'),
  StreamSid: z.string().optional(),
  StreamEvent: z.string().min(1, 'is required'),
  StreamError: z.string().optional(),
});
