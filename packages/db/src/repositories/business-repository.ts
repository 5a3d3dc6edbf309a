/**
 * Businesses: who answers a call to a given number, with which prompt and voice.
 */
import type { Knex } from 'knex';
import { z } from 'zod';
import { DEFAULT_TIMEZONE, DEFAULT_VOICE, E164_PATTERN, isUuid } from '../domain.js';
import { hasPgCode, PG_UNIQUE_VIOLATION } from '../pg-errors.js';

export interface Business {
  id: string;
  name: string;
  /** The full agent instructions. */
  aiPrompt: string;
  /** Instructions for calls the business places; null means use `aiPrompt`. */
  outboundAiPrompt: string | null;
  /** What the agent says first. */
  greeting: string;
  voice: string;
  appointmentBookingEnabled: boolean;
  /** IANA zone the business keeps its hours in. */
  timezone: string;
  /** The business's human line for transfer_call (E.164); null: no transfer. */
  transferNumber: string | null;
  /** What the agent leaves on an answering machine; null: hang up without a message. */
  voicemailMessage: string | null;
  /** Tools the agent has, as data: end_call, transfer_call; and whether key presses reach the model. */
  endCallEnabled: boolean;
  transferCallEnabled: boolean;
  dtmfEnabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function isIanaTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const newBusinessSchema = z.object({
  name: z.string().min(1),
  aiPrompt: z.string().min(1),
  outboundAiPrompt: z.string().min(1).nullable().default(null),
  greeting: z.string().min(1),
  voice: z.string().min(1).default(DEFAULT_VOICE),
  appointmentBookingEnabled: z.boolean().default(false),
  timezone: z.string().refine(isIanaTimeZone, 'not an IANA time zone').default(DEFAULT_TIMEZONE),
  transferNumber: z.string().regex(E164_PATTERN, 'not an E.164 number').nullable().default(null),
  voicemailMessage: z.string().min(1).nullable().default(null),
  endCallEnabled: z.boolean().default(true),
  transferCallEnabled: z.boolean().default(true),
  dtmfEnabled: z.boolean().default(true),
  phoneNumbers: z.array(z.string().regex(E164_PATTERN, 'not an E.164 number')).default([]),
});
export type NewBusiness = z.input<typeof newBusinessSchema>;

/** A number is already routed to some business (numbers are unique across businesses). */
export class PhoneNumberInUseError extends Error {
  override readonly name = 'PhoneNumberInUseError';
  constructor(readonly detail: string) {
    super(`phone number already belongs to a business (${detail}); remove it there first`);
  }
}

const businessRow = z.object({
  id: z.string(),
  name: z.string(),
  ai_prompt: z.string(),
  outbound_ai_prompt: z.string().nullable(),
  greeting: z.string(),
  voice: z.string(),
  appointment_booking_enabled: z.boolean(),
  timezone: z.string(),
  transfer_number: z.string().nullable(),
  voicemail_message: z.string().nullable(),
  end_call_enabled: z.boolean(),
  transfer_call_enabled: z.boolean(),
  dtmf_enabled: z.boolean(),
  created_at: z.date(),
  updated_at: z.date(),
});

export function toBusiness(raw: unknown): Business {
  const row = businessRow.parse(raw);
  return {
    id: row.id,
    name: row.name,
    aiPrompt: row.ai_prompt,
    outboundAiPrompt: row.outbound_ai_prompt,
    greeting: row.greeting,
    voice: row.voice,
    appointmentBookingEnabled: row.appointment_booking_enabled,
    timezone: row.timezone,
    transferNumber: row.transfer_number,
    voicemailMessage: row.voicemail_message,
    endCallEnabled: row.end_call_enabled,
    transferCallEnabled: row.transfer_call_enabled,
    dtmfEnabled: row.dtmf_enabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface BusinessRepository {
  /** The business a call to `e164` belongs to, or null for an unknown number. */
  findByPhoneNumber(e164: string): Promise<Business | null>;
  findById(id: string): Promise<Business | null>;
  /** Creates a business and its numbers in one transaction (tests and seeding). */
  create(input: NewBusiness): Promise<Business>;
  listPhoneNumbers(businessId: string): Promise<string[]>;
}

export function createBusinessRepository(knex: Knex): BusinessRepository {
  return {
    async findByPhoneNumber(e164) {
      const row: unknown = await knex('businesses')
        .select('businesses.*')
        .join('business_phone_numbers', 'business_phone_numbers.business_id', 'businesses.id')
        .where('business_phone_numbers.phone_number', e164)
        .first();
      return row === undefined ? null : toBusiness(row);
    },

    async findById(id) {
      if (!isUuid(id)) return null;
      const row: unknown = await knex('businesses').where({ id }).first();
      return row === undefined ? null : toBusiness(row);
    },

    async create(input) {
      const business = newBusinessSchema.parse(input);
      return knex.transaction(async (trx) => {
        const [row]: unknown[] = await trx('businesses')
          .insert({
            name: business.name,
            ai_prompt: business.aiPrompt,
            outbound_ai_prompt: business.outboundAiPrompt,
            greeting: business.greeting,
            voice: business.voice,
            appointment_booking_enabled: business.appointmentBookingEnabled,
            timezone: business.timezone,
            transfer_number: business.transferNumber,
            voicemail_message: business.voicemailMessage,
            end_call_enabled: business.endCallEnabled,
            transfer_call_enabled: business.transferCallEnabled,
            dtmf_enabled: business.dtmfEnabled,
          })
          .returning('*');
        const created = toBusiness(row);
        if (business.phoneNumbers.length > 0) {
          try {
            await trx('business_phone_numbers').insert(
              business.phoneNumbers.map((phoneNumber) => ({ phone_number: phoneNumber, business_id: created.id })),
            );
          } catch (error) {
            if (hasPgCode(error, PG_UNIQUE_VIOLATION)) {
              throw new PhoneNumberInUseError(error.detail ?? business.phoneNumbers.join(', '));
            }
            throw error;
          }
        }
        return created;
      });
    },

    async listPhoneNumbers(businessId) {
      if (!isUuid(businessId)) return [];
      const rows: { phone_number: string }[] = await knex('business_phone_numbers')
        .select('phone_number')
        .where({ business_id: businessId })
        .orderBy('phone_number');
      return rows.map((row) => row.phone_number);
    },
  };
}
