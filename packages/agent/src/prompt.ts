/**
 * The compact greeting prompt: what the Realtime session is configured with.
 * Built by the prebuild worker while the phone rings (fast path), or by the
 * bridge from the database when no prebuilt prompt arrived in time (slow path).
 * It is kept to hundreds of characters: instructions size is paid on every
 * session.update and in the model's time to first audio.
 */
import { z } from 'zod';

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
}

export function buildPrompt(business: BusinessProfile, direction: 'inbound' | 'outbound', now = Date.now()): PrebuiltPrompt {
  const source = direction === 'outbound' && business.outboundAiPrompt ? business.outboundAiPrompt : business.aiPrompt;
  const toolNames = business.appointmentBookingEnabled ? ['book_appointment'] : [];
  const lines = [
    `You are the phone agent for ${business.name}. Speak briefly and naturally; this is a phone call.`,
    compact(source, PROMPT_LIMITS.maxBusinessInstructionsChars),
    business.timezone ? `Times are in ${business.timezone}.` : '',
    toolNames.length > 0
      ? 'You can book appointments with the book_appointment tool; confirm name and time first.'
      : 'You cannot book appointments; offer to take a message instead.',
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
    direction,
    builtAt: now,
  };
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
