/** The calls row of an outbound call: placed while it rings, answered, and ended once whoever ends it. */
import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  closeDatabase,
  createBusinessRepository,
  createCallRepository,
  prepareTestDatabase,
  uniqueCallSid,
  uniquePhoneNumber,
} from '@voice/db';
import type { CallRepository } from '@voice/db';

describe('call repository: outbound calls', () => {
  let knex: Knex;
  let calls: CallRepository;
  let businessId: string;
  let from: string;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    calls = createCallRepository(knex);
    from = uniquePhoneNumber();
    businessId = (
      await createBusinessRepository(knex).create({
        name: 'Outbound Co',
        aiPrompt: 'You call people.',
        greeting: 'Hello.',
        phoneNumbers: [from],
      })
    ).id;
  });
  after(() => closeDatabase(knex));

  const place = async () => {
    const callSid = uniqueCallSid();
    const to = uniquePhoneNumber();
    await calls.recordPlaced({ callSid, businessId, from, to });
    return { callSid, to };
  };

  it('is placed with no received_at while it rings, so the stream watchdog leaves it alone', async () => {
    const { callSid, to } = await place();
    const row = await calls.findByCallSid(callSid);
    expect(row).to.include({ status: 'placed', direction: 'outbound', from, to, businessId, receivedAt: null });
    const swept = await calls.failNeverStarted({
      answeredBefore: new Date(Date.now() + 60_000),
      answeredAfter: new Date(0),
      limit: 1000,
      endReason: 'no_stream',
    });
    expect(swept.map((c) => c.callSid)).to.not.include(callSid);
  });

  it('moves to received when the answer webhook arrives, once', async () => {
    const { callSid, to } = await place();
    const answer = { callSid, businessId, direction: 'outbound' as const, from, to, status: 'received' as const };
    expect(await calls.recordReceived(answer)).to.equal(true);
    expect(await calls.recordReceived(answer), 'a retried webhook').to.equal(false);
    const row = await calls.findByCallSid(callSid);
    expect(row?.status).to.equal('received');
    expect(row?.receivedAt).to.be.instanceOf(Date);
  });

  it('ends an unanswered call once, and never one that had a stream', async () => {
    const busy = await place();
    const first = await calls.recordUnanswered(busy.callSid, {
      status: 'busy',
      endedAt: new Date(),
      endReason: 'busy',
      durationMs: 0,
    });
    expect(first).to.include({ status: 'busy', endReason: 'busy' });
    expect(
      await calls.recordUnanswered(busy.callSid, { status: 'completed', endedAt: new Date(), endReason: 'no_stream' }),
      'already ended',
    ).to.equal(null);

    const streamed = await place();
    await calls.markStreamStarted(streamed.callSid, { at: new Date(), gatewayInstance: 'gw-test' });
    expect(
      await calls.recordUnanswered(streamed.callSid, {
        status: 'completed',
        endedAt: new Date(),
        endReason: 'no_stream',
      }),
      "the bridge's to end",
    ).to.equal(null);
    expect((await calls.findByCallSid(streamed.callSid))?.endedAt).to.equal(null);
  });

  it('keeps a busy that arrived before the placement wrote its row', async () => {
    const callSid = uniqueCallSid();
    const to = uniquePhoneNumber();
    await calls.recordUnanswered(callSid, { status: 'busy', endedAt: new Date(), endReason: 'busy' });
    await calls.recordPlaced({ callSid, businessId, from, to });
    expect(await calls.findByCallSid(callSid)).to.include({ status: 'busy', businessId, from, to });
  });

  it('records who answered', async () => {
    const { callSid } = await place();
    await calls.recordAnsweredBy(callSid, 'machine_end_beep');
    expect((await calls.findByCallSid(callSid))?.answeredBy).to.equal('machine_end_beep');
  });

  describe('the placed-call sweep claims stale calls', () => {
    /** A window around calls placed now, as the sweep sees them once they are stale. */
    const sweepWindow = (since: Date, checkedBefore = new Date(Date.now() - 60_000)) => ({
      placedAfter: new Date(since.getTime() - 1),
      placedBefore: new Date(Date.now() + 1000),
      checkedBefore,
      limit: 1000,
    });
    const sidsOf = (claims: Array<{ callSid: string }>, ours: string[]) =>
      claims.map((c) => c.callSid).filter((sid) => ours.includes(sid));

    it('gives each stale call to one of the replicas sweeping at once', async () => {
      const since = new Date();
      const ours = (await Promise.all(Array.from({ length: 8 }, () => place()))).map((c) => c.callSid);
      const window = sweepWindow(since);
      const claims = await Promise.all([
        calls.claimStalePlaced(window),
        calls.claimStalePlaced(window),
        calls.claimStalePlaced(window),
      ]);
      const claimed = claims.flatMap((c) => sidsOf(c, ours));
      expect(claimed.slice().sort(), 'every call once').to.deep.equal(ours.slice().sort());
    });

    it('leaves a call just asked about until checkedBefore passes it', async () => {
      const since = new Date();
      const asked = await place();
      expect(sidsOf(await calls.claimStalePlaced(sweepWindow(since)), [asked.callSid])).to.deep.equal([asked.callSid]);
      const fresh = await place();
      const ours = [asked.callSid, fresh.callSid];
      expect(sidsOf(await calls.claimStalePlaced(sweepWindow(since)), ours), 'just asked: skipped').to.deep.equal([
        fresh.callSid,
      ]);
      const later = sweepWindow(since, new Date(Date.now() + 1000));
      expect(sidsOf(await calls.claimStalePlaced(later), ours).sort(), 'both due again').to.deep.equal(ours.sort());
    });

    it('never claims a call that was answered or has ended', async () => {
      const since = new Date();
      const answered = await place();
      await calls.recordReceived({ ...answered, businessId, direction: 'outbound', from, status: 'received' });
      const ended = await place();
      await calls.recordUnanswered(ended.callSid, { status: 'no_answer', endedAt: new Date(), endReason: 'no_answer' });
      const ours = [answered.callSid, ended.callSid];
      expect(sidsOf(await calls.claimStalePlaced(sweepWindow(since)), ours)).to.deep.equal([]);
    });
  });
});
