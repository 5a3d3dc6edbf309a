import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  closeDatabase,
  createBusinessRepository,
  prepareTestDatabase,
  uniquePhoneNumber,
  PhoneNumberInUseError,
} from '@voice/db';
import type { BusinessRepository } from '@voice/db';

describe('business repository', () => {
  let knex: Knex;
  let businesses: BusinessRepository;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    businesses = createBusinessRepository(knex);
  });

  after(async () => {
    await closeDatabase(knex);
  });

  function newBusiness(phoneNumbers: string[]) {
    return {
      name: 'Test Plumbing',
      aiPrompt: 'You answer the phone for a plumber.',
      greeting: 'Test Plumbing, how can I help?',
      phoneNumbers,
    };
  }

  it('finds the business a called number belongs to, with defaults applied', async () => {
    const [main, second] = [uniquePhoneNumber(), uniquePhoneNumber()];
    const created = await businesses.create(newBusiness([main, second]));

    const byMain = await businesses.findByPhoneNumber(main);
    const bySecond = await businesses.findByPhoneNumber(second);
    expect(byMain?.id).to.equal(created.id);
    expect(bySecond?.id).to.equal(created.id);
    expect(byMain).to.deep.include({
      name: 'Test Plumbing',
      voice: 'marin',
      timezone: 'America/New_York',
      appointmentBookingEnabled: false,
      outboundAiPrompt: null,
    });
    expect(byMain?.createdAt).to.be.instanceOf(Date);
  });

  it('returns null for a number no business owns', async () => {
    expect(await businesses.findByPhoneNumber(uniquePhoneNumber())).to.equal(null);
  });

  it('finds by id, and treats a malformed id as not found', async () => {
    const created = await businesses.create(newBusiness([uniquePhoneNumber()]));
    expect((await businesses.findById(created.id))?.name).to.equal('Test Plumbing');
    expect(await businesses.findById('not-a-uuid')).to.equal(null);
  });

  it('refuses to give one number to two businesses, and creates neither half', async () => {
    const shared = uniquePhoneNumber();
    const owner = await businesses.create(newBusiness([shared]));
    const loser = { ...newBusiness([uniquePhoneNumber(), shared]), name: `Loser ${shared}` };

    let thrown: unknown;
    try {
      await businesses.create(loser);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(PhoneNumberInUseError);
    expect((await businesses.findByPhoneNumber(shared))?.id).to.equal(owner.id);
    expect(await knex('businesses').where({ name: loser.name }).first()).to.equal(undefined);
  });

  it('rejects a number that is not E.164', async () => {
    let thrown: unknown;
    try {
      await businesses.create(newBusiness(['555-0100']));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(Error);
    expect(String(thrown)).to.match(/E\.164/);
  });
});
