/** Idempotency-Keys of POST /calls: one request places the call, retries get its answer, however long Redis lives. */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { closeDatabase, createOutboundRequestRepository, prepareTestDatabase } from '@voice/db';
import type { OutboundRequestRepository, OutboundRequestTimings } from '@voice/db';

/** The request's fingerprint (the webhook hashes the callee and the business). */
const REQUEST = 'request-a';
const TIMINGS: OutboundRequestTimings = {
  keepSeconds: 24 * 3600,
  inFlightSeconds: 120,
  abandonedAnswer: { status: 504, body: { outcome: 'unknown' } },
};

describe('outbound request repository (Idempotency-Keys)', () => {
  let knex: Knex;
  let requests: OutboundRequestRepository;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    requests = createOutboundRequestRepository(knex);
  });
  after(() => closeDatabase(knex));

  const newKey = () => `test-${randomUUID()}`;
  /** Moves a key's start into the past, as if that much time had gone by. */
  const age = (keyHash: string, seconds: number) =>
    knex('outbound_requests')
      .where({ key_hash: keyHash })
      .update({ started_at: knex.raw('now() - make_interval(secs => ?)', [seconds]) });

  it('gives a key to one request; the others wait, then replay its answer', async () => {
    const key = newKey();
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({ kind: 'new' });
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({ kind: 'in_flight' });
    await requests.keep(key, { status: 201, body: { callSid: 'CA1' } });
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({
      kind: 'replay',
      answer: { status: 201, body: { callSid: 'CA1' } },
      abandoned: false,
    });
  });

  it('takes exactly one of many requests racing for a new key', async () => {
    const key = newKey();
    const starts = await Promise.all(Array.from({ length: 8 }, () => requests.start(key, REQUEST, TIMINGS)));
    expect(starts.filter((s) => s.kind === 'new')).to.have.length(1);
    expect(starts.filter((s) => s.kind === 'in_flight')).to.have.length(7);
  });

  it('refuses a key given with another request, in flight or answered, and leaves its answer alone', async () => {
    const key = newKey();
    await requests.start(key, REQUEST, TIMINGS);
    expect(await requests.start(key, 'request-b', TIMINGS)).to.deep.equal({ kind: 'mismatch' });
    await requests.keep(key, { status: 201, body: { callSid: 'CA3' } });
    expect(await requests.start(key, 'request-b', TIMINGS)).to.deep.equal({ kind: 'mismatch' });
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.include({ kind: 'replay' });
    // Once the answer has expired the key is free for any request.
    await age(key, TIMINGS.keepSeconds + 60);
    expect(await requests.start(key, 'request-b', TIMINGS)).to.deep.equal({ kind: 'new' });
  });

  it('frees a key whose request dialed nobody', async () => {
    const key = newKey();
    await requests.start(key, REQUEST, TIMINGS);
    await requests.forget(key);
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({ kind: 'new' });
  });

  it('answers a request abandoned mid-placement with the unknown outcome, for good', async () => {
    const key = newKey();
    await requests.start(key, REQUEST, TIMINGS);
    await age(key, 60);
    expect(await requests.start(key, REQUEST, TIMINGS), 'a minute in: still being placed').to.deep.equal({
      kind: 'in_flight',
    });
    await age(key, 121);
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({
      kind: 'replay',
      answer: TIMINGS.abandonedAnswer,
      abandoned: true,
    });
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.equal({
      kind: 'replay',
      answer: TIMINGS.abandonedAnswer,
      abandoned: false,
    });
    // The placement that finally answers cannot overwrite what retries were already told.
    await requests.keep(key, { status: 201, body: { callSid: 'CA2' } });
    expect(await requests.start(key, REQUEST, TIMINGS)).to.deep.include({ answer: TIMINGS.abandonedAnswer });
  });

  it('starts over with a key whose answer is older than a day, and deletes such answers', async () => {
    const old = newKey();
    const recent = newKey();
    for (const key of [old, recent]) {
      await requests.start(key, REQUEST, TIMINGS);
      await requests.keep(key, { status: 201, body: { callSid: key } });
    }
    await age(old, TIMINGS.keepSeconds + 60);
    expect(await requests.start(old, REQUEST, TIMINGS)).to.deep.equal({ kind: 'new' });

    const stale = newKey();
    await requests.start(stale, REQUEST, TIMINGS);
    await requests.keep(stale, { status: 504, body: {} });
    await age(stale, TIMINGS.keepSeconds + 60);
    expect(await requests.deleteExpired(TIMINGS.keepSeconds, 1000)).to.be.at.least(1);
    expect(await knex('outbound_requests').where({ key_hash: stale }).first()).to.equal(undefined);
    expect(await requests.start(recent, REQUEST, TIMINGS)).to.deep.include({ kind: 'replay' });
  });
});
