import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  closeDatabase,
  createAppointmentRepository,
  createBusinessRepository,
  prepareTestDatabase,
  uniqueCallSid,
  uniquePhoneNumber,
} from '@voice/db';
import type { AppointmentRepository, AppointmentRequest } from '@voice/db';

const NOW = new Date('2030-01-01T00:00:00.000Z');
const TEN_AM = new Date('2030-01-07T15:00:00.000Z');
const ELEVEN_AM = new Date('2030-01-07T16:00:00.000Z');

describe('appointment repository', () => {
  let knex: Knex;
  let appointments: AppointmentRepository;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    appointments = createAppointmentRepository(knex, { now: () => NOW });
  });

  after(async () => {
    await closeDatabase(knex);
  });

  // Each test books into its own business, so slots never collide across tests or runs.
  async function newBusinessId(): Promise<string> {
    const business = await createBusinessRepository(knex).create({
      name: 'Booking Test Dental',
      aiPrompt: 'You book appointments.',
      greeting: 'Hello.',
      appointmentBookingEnabled: true,
      phoneNumbers: [uniquePhoneNumber()],
    });
    return business.id;
  }

  function request(businessId: string, startsAt: Date): AppointmentRequest {
    return {
      businessId,
      callSid: uniqueCallSid(),
      customerName: 'Jane Caller',
      customerPhone: uniquePhoneNumber(),
      startsAt,
      durationMinutes: 30,
      notes: 'cleaning',
    };
  }

  it('books a free slot', async () => {
    const businessId = await newBusinessId();
    const result = await appointments.book(request(businessId, TEN_AM));
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.appointment).to.deep.include({ businessId, customerName: 'Jane Caller', durationMinutes: 30 });
    expect(result.appointment.startsAt.toISOString()).to.equal(TEN_AM.toISOString());
  });

  it('refuses to book the same slot twice', async () => {
    const businessId = await newBusinessId();
    expect((await appointments.book(request(businessId, TEN_AM))).ok).to.equal(true);
    const second = await appointments.book({ ...request(businessId, TEN_AM), customerName: 'John Other' });
    expect(second).to.deep.include({ ok: false, reason: 'slot_taken' });
    expect(await appointments.listForBusiness(businessId)).to.have.length(1);
  });

  it('gives exactly one of two concurrent callers the slot', async () => {
    const businessId = await newBusinessId();
    const results = await Promise.all([
      appointments.book(request(businessId, TEN_AM)),
      appointments.book(request(businessId, TEN_AM)),
    ]);
    expect(results.filter((result) => result.ok)).to.have.length(1);
    expect(results.filter((result) => !result.ok && result.reason === 'slot_taken')).to.have.length(1);
  });

  it('answers invalid requests with a reason instead of throwing', async () => {
    const businessId = await newBusinessId();
    const cases: AppointmentRequest[] = [
      { ...request(businessId, TEN_AM), durationMinutes: 0 },
      { ...request(businessId, TEN_AM), customerName: '  ' },
      { ...request(businessId, new Date('invalid')) },
      { ...request(businessId, new Date('2029-12-31T09:00:00.000Z')) },
      { ...request('not-a-uuid', TEN_AM) },
      { ...request('00000000-0000-4000-8000-000000000000', TEN_AM) },
    ];
    for (const bad of cases) {
      const result = await appointments.book(bad);
      expect(result, JSON.stringify(bad)).to.deep.include({ ok: false, reason: 'invalid' });
      if (!result.ok) expect(result.message).to.be.a('string').and.not.equal('');
    }
    expect(await appointments.listForBusiness(businessId)).to.deep.equal([]);
  });

  describe('with a deadline (a caller waits on the line)', () => {
    it('books a free slot when the database answers in time', async () => {
      const businessId = await newBusinessId();
      const result = await appointments.book(request(businessId, TEN_AM), { deadlineAt: Date.now() + 5000 });
      expect(result.ok).to.equal(true);
    });

    it('gives up at the deadline while the table is locked, and the insert does not land once the lock is gone', async () => {
      const businessId = await newBusinessId();
      // A report or a migration holding a lock that blocks inserts, not reads.
      const locker = await knex.transaction();
      try {
        await locker.raw('LOCK TABLE appointments IN SHARE MODE');
        const result = await appointments.book(request(businessId, TEN_AM), { deadlineAt: Date.now() + 300 });
        // The lock is still held: had book() waited for it, it would never have returned.
        expect(result).to.deep.include({ ok: false, reason: 'timeout' });
      } finally {
        await locker.rollback();
      }
      // A statement the client merely stopped waiting for would now run and commit.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await appointments.listForBusiness(businessId)).to.deep.equal([]);
    });

    it('does not start a booking whose deadline has already passed', async () => {
      const businessId = await newBusinessId();
      const result = await appointments.book(request(businessId, TEN_AM), { deadlineAt: Date.now() - 1 });
      expect(result).to.deep.include({ ok: false, reason: 'timeout' });
      expect(await appointments.listForBusiness(businessId)).to.deep.equal([]);
    });
  });

  it('lists a business appointments earliest first, and only its own', async () => {
    const businessId = await newBusinessId();
    const otherId = await newBusinessId();
    await appointments.book(request(businessId, ELEVEN_AM));
    await appointments.book(request(businessId, TEN_AM));
    await appointments.book(request(otherId, TEN_AM));

    const listed = await appointments.listForBusiness(businessId);
    expect(listed.map((appointment) => appointment.startsAt.toISOString())).to.deep.equal([
      TEN_AM.toISOString(),
      ELEVEN_AM.toISOString(),
    ]);
  });
});
