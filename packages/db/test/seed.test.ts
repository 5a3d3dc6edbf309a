import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  closeDatabase,
  createBusinessRepository,
  prepareTestDatabase,
  seedDemoBusiness,
  DEMO_BUSINESS_NAME,
  DEMO_GREETING,
  DEMO_PHONE_NUMBER,
} from '@voice/db';

describe('seedDemoBusiness', () => {
  let knex: Knex;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
  });

  after(async () => {
    await closeDatabase(knex);
  });

  it('is idempotent: seeding twice leaves one business with one number', async () => {
    const first = await seedDemoBusiness(knex);
    const second = await seedDemoBusiness(knex);
    expect(second.id).to.equal(first.id);

    const businesses = await knex('businesses')
      .where({ name: DEMO_BUSINESS_NAME })
      .count<{ count: string }[]>('* as count');
    expect(Number(businesses[0]?.count)).to.equal(1);
    const numbers = await createBusinessRepository(knex).listPhoneNumbers(first.id);
    expect(numbers).to.deep.equal([DEMO_PHONE_NUMBER]);
  });

  it('answers the demo number as a dental receptionist that books appointments', async () => {
    await seedDemoBusiness(knex);
    const business = await createBusinessRepository(knex).findByPhoneNumber(DEMO_PHONE_NUMBER);
    expect(business).to.not.equal(null);
    expect(business?.name).to.equal(DEMO_BUSINESS_NAME);
    expect(business?.greeting).to.equal(DEMO_GREETING);
    expect(business?.appointmentBookingEnabled).to.equal(true);
    expect(business?.voice).to.equal('marin');
    expect(business?.aiPrompt.length).to.be.within(300, 1200);
  });

  it('survives concurrent seeding', async () => {
    const results = await Promise.all([seedDemoBusiness(knex), seedDemoBusiness(knex)]);
    expect(new Set(results.map((business) => business.id)).size).to.equal(1);
  });
});
