/**
 * PROMPT_BUILDER_VERSION: which builder made a cached prompt. The webhook's
 * prompt cache (apps/webhook/src/prebuild/prompt-cache.ts) reuses a prompt only
 * when the business row and this version are unchanged, so a deploy that
 * changes what buildPrompt says must change it, or calls go on with the old
 * prompt until the cache TTL. Set by hand it was one more thing to forget: it
 * is the fingerprint of the builder's output for reference businesses that take
 * each of its branches (every tool on and off, DTMF, time zone, voice, an
 * outbound prompt, instructions cut at a sentence and mid-word), in both
 * directions. Any change to the output for these changes it; a refactor that
 * keeps the output keeps it, so caches survive it.
 */
import { createHash } from 'node:crypto';
import { buildPrompt, PROMPT_LIMITS, type BusinessProfile, type PrebuiltPrompt } from './prompt.js';

type PromptBuilder = (business: BusinessProfile, direction: 'inbound' | 'outbound', now: number) => PrebuiltPrompt;

const LONG_SENTENCES = 'We are open on weekdays. Ask for the caller name. '.repeat(
  Math.ceil(PROMPT_LIMITS.maxBusinessInstructionsChars / 20),
);

export const REFERENCE_BUSINESSES: readonly BusinessProfile[] = [
  {
    id: 'reference-all-on',
    name: 'Reference Clinic',
    aiPrompt: LONG_SENTENCES,
    outboundAiPrompt: 'You call to confirm an appointment.',
    greeting: 'Hello, Reference Clinic.',
    voice: 'cedar',
    appointmentBookingEnabled: true,
    timezone: 'Europe/Paris',
    endCallEnabled: true,
    transferCallEnabled: true,
    dtmfEnabled: true,
  },
  {
    id: 'reference-all-off',
    name: 'Reference Shop',
    aiPrompt: `  Answer   questions\n about orders ${'x'.repeat(PROMPT_LIMITS.maxBusinessInstructionsChars)}`,
    outboundAiPrompt: null,
    greeting: 'Hi, Reference Shop.',
    voice: null,
    appointmentBookingEnabled: false,
    timezone: null,
    endCallEnabled: false,
    transferCallEnabled: false,
    dtmfEnabled: false,
  },
  {
    // The columns' defaults: what a row without the newer columns builds.
    id: 'reference-defaults',
    name: 'Reference Office',
    aiPrompt: 'You take messages.',
    greeting: 'Reference Office, good morning.',
    appointmentBookingEnabled: false,
  },
];

/** A short hash of what `build` makes of the reference businesses, when it was built left out. */
export function promptBuilderFingerprint(build: PromptBuilder = buildPrompt): string {
  const hash = createHash('sha256');
  for (const business of REFERENCE_BUSINESSES)
    for (const direction of ['inbound', 'outbound'] as const)
      hash.update(JSON.stringify({ ...build(business, direction, Date.now()), builtAt: 0 }));
  return hash.digest('hex').slice(0, 12);
}

export const PROMPT_BUILDER_VERSION = promptBuilderFingerprint();
