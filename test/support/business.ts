/** A business of its own for each test, answering a number no other test uses. */
import type { Knex } from 'knex';
import { createBusinessRepository, uniquePhoneNumber, type Business, type NewBusiness } from '@voice/db';

export const TEST_GREETING = 'Thanks for calling Test Dental. How can I help you today?';

export async function createTestBusiness(
  knex: Knex,
  overrides: Partial<NewBusiness> = {},
): Promise<Business & { phoneNumber: string }> {
  const phoneNumber = uniquePhoneNumber();
  const business = await createBusinessRepository(knex).create({
    name: 'Test Dental',
    aiPrompt: 'You are the receptionist of Test Dental. Be brief and friendly. Offer appointments on weekdays.',
    greeting: TEST_GREETING,
    appointmentBookingEnabled: false,
    phoneNumbers: [phoneNumber],
    ...overrides,
  });
  return { ...business, phoneNumber };
}
