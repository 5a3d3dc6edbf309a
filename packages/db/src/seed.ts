/**
 * The demo business that `npm run db:seed` and `npm run demo` answer calls for.
 * Idempotent and race-free without locks: the business has a fixed id and both
 * rows are upserts, so seeding twice (or twice at once) leaves one business
 * with one number.
 */
import type { Knex } from 'knex';
import { createBusinessRepository } from './repositories/business-repository.js';
import type { Business } from './repositories/business-repository.js';

/** Twilio's magic test number; calls to it never reach a real phone. */
export const DEMO_PHONE_NUMBER = '+15005550006';
export const DEMO_BUSINESS_ID = 'a0c3e000-de40-4000-8000-000000000001';
export const DEMO_BUSINESS_NAME = 'Acme Dental';

export const DEMO_GREETING =
  'Thanks for calling Acme Dental, this is the virtual receptionist. How can I help you today?';

export const DEMO_AI_PROMPT = [
  'You are the virtual receptionist for Acme Dental, a friendly family dental office.',
  'You are on the phone: speak warmly and briefly, one or two sentences at a time, and let the caller talk.',
  'Help callers book cleanings, check-ups and emergency visits.',
  "Before booking, collect the caller's full name, a callback number and a preferred day and time,",
  'then read the details back and confirm before you book.',
  'Office hours are Monday to Friday, 8 am to 5 pm Eastern time.',
  'If a caller describes severe pain, swelling or bleeding, offer the earliest slot,',
  'and suggest urgent care if it cannot wait.',
  'Never diagnose or quote prices; offer to have the office call back instead.',
  'If you did not catch something, politely ask again.',
].join(' ');

export async function seedDemoBusiness(knex: Knex): Promise<Business> {
  await knex.transaction(async (trx) => {
    await trx('businesses')
      .insert({
        id: DEMO_BUSINESS_ID,
        name: DEMO_BUSINESS_NAME,
        ai_prompt: DEMO_AI_PROMPT,
        outbound_ai_prompt: null,
        greeting: DEMO_GREETING,
        appointment_booking_enabled: true,
      })
      .onConflict('id')
      .merge(['name', 'ai_prompt', 'outbound_ai_prompt', 'greeting', 'appointment_booking_enabled']);
    // If the number had been given to another business, the seed takes it back.
    await trx('business_phone_numbers')
      .insert({ phone_number: DEMO_PHONE_NUMBER, business_id: DEMO_BUSINESS_ID })
      .onConflict('phone_number')
      .merge(['business_id']);
  });

  const business = await createBusinessRepository(knex).findById(DEMO_BUSINESS_ID);
  if (business === null) throw new Error(`demo business ${DEMO_BUSINESS_ID} vanished right after seeding`);
  return business;
}
