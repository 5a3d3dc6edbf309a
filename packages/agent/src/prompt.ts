/**
 * The compact greeting prompt: what the Realtime session is configured with.
 * Built by the prebuild worker while the phone rings (fast path), or by the
 * bridge from the database when no prebuilt prompt arrived in time (slow path).
 * It is kept to hundreds of characters: instructions size is paid on every
 * session.update and in the model's time to first audio.
 */
import { z } from 'zod';
import type { AgentToolName } from './tools.js';

export const PROMPT_LIMITS = {
  /** Upper bound for the business's own instructions inside the compact prompt. */
  maxBusinessInstructionsChars: 420,
} as const;

export const DEFAULT_VOICE = 'marin';

export const prebuiltPromptSchema = z.object({
  businessId: z.string(),
  businessName: z.string(),
  instructions: z.string().min(1),
  greeting: z.string().min(1),
  voice: z.string().min(1),
  toolNames: z.array(z.string()),
  /** Whether the caller's key presses reach the model (a prompt prebuilt before this field existed: yes). */
  dtmfEnabled: z.boolean().default(true),
  direction: z.enum(['inbound', 'outbound']),
  builtAt: z.number(),
});

export type PrebuiltPrompt = z.infer<typeof prebuiltPromptSchema>;

export interface BusinessProfile {
  id: string;
  name: string;
  aiPrompt: string;
  outboundAiPrompt?: string | null;
  greeting: string;
  voice?: string | null;
  appointmentBookingEnabled: boolean;
  timezone?: string | null;
  /** Absent: enabled, as the columns default (businesses table). */
  endCallEnabled?: boolean;
  transferCallEnabled?: boolean;
  dtmfEnabled?: boolean;
}

/** Which tools a business's agent has: data on the business row, as booking always was. */
export function toolNamesFor(business: BusinessProfile): AgentToolName[] {
  const names: AgentToolName[] = [];
  if (business.appointmentBookingEnabled) names.push('book_appointment');
  if (business.endCallEnabled ?? true) names.push('end_call');
  if (business.transferCallEnabled ?? true) names.push('transfer_call');
  return names;
}

export function buildPrompt(
  business: BusinessProfile,
  direction: 'inbound' | 'outbound',
  now = Date.now(),
): PrebuiltPrompt {
  const source = direction === 'outbound' && business.outboundAiPrompt ? business.outboundAiPrompt : business.aiPrompt;
  const toolNames = toolNamesFor(business);
  const dtmfEnabled = business.dtmfEnabled ?? true;
  const lines = [
    `You are the phone agent for ${business.name}. Speak briefly and naturally; this is a phone call.`,
    compact(source, PROMPT_LIMITS.maxBusinessInstructionsChars),
    business.timezone ? `Times are in ${business.timezone}.` : '',
    toolNames.includes('book_appointment')
      ? 'You can book appointments with the book_appointment tool; confirm name and time first.'
      : 'You cannot book appointments; offer to take a message instead.',
    toolNames.includes('end_call') ? 'When the caller is done, say a short goodbye and call end_call.' : '',
    toolNames.includes('transfer_call') ? 'To hand the caller to a person, say so and call transfer_call.' : '',
    dtmfEnabled ? `Keypad presses arrive as "${dtmfText('N')}" (keys in a row as "${dtmfText('NNNN')}")` : '',
    `Start the call by saying exactly this greeting, then wait for the caller.`,
    `Greeting: ${business.greeting}`,
  ];
  return {
    businessId: business.id,
    businessName: business.name,
    instructions: lines.filter(Boolean).join('\n'),
    greeting: business.greeting,
    voice: business.voice || DEFAULT_VOICE,
    toolNames,
    dtmfEnabled,
    direction,
    builtAt: now,
  };
}

/** How keys the caller pressed are told to the model (a user text item), and how the prompt announces it. */
export function dtmfText(keys: string): string {
  return keys.length === 1 ? `The caller pressed ${keys} on the keypad.` : `The caller entered ${keys} on the keypad.`;
}

/** Whitespace folded, cut at the last sentence end before the limit. */
export function compact(text: string, maxChars: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  if (folded.length <= maxChars) return folded;
  const cut = folded.slice(0, maxChars);
  const lastStop = Math.max(cut.lastIndexOf('. '), cut.lastIndexOf('? '), cut.lastIndexOf('! '));
  return lastStop > maxChars / 2 ? cut.slice(0, lastStop + 1) : `${cut.trimEnd()}…`;
}

export function parsePrebuiltPrompt(json: string): PrebuiltPrompt | undefined {
  try {
    const parsed = prebuiltPromptSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
