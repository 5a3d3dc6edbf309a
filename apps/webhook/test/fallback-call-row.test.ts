/**
 * A call answered with the spoken fallback still gets its calls row, even when Postgres is the
 * reason for the fallback: the lookup hangs on a real lock (the answer deadline runs out), and the
 * row's first writes are refused by a real constraint until Postgres takes it again.
 */
import { expect } from 'chai';
import { CALL_ROW_RETRY_DELAYS_MS, createCallRepository, uniqueCallSid } from '@voice/db';
import { readTimeline } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { TEST_ACCOUNT_SID } from '../../../test/support/env.js';
import { postAsTwilio } from '../../../test/support/twilio-http.js';
import { createTestBusiness } from '../../../test/support/business.js';
import { scrapeMetric } from '../../../test/support/metrics.js';
import { refuseCallRow } from '../../../test/support/refuse-call-row.js';
import { useWebhookService } from './helpers/webhook-context.js';

describe('webhook: the calls row of a call answered with the spoken fallback', function () {
  this.timeout(30_000);
  const ctx = useWebhookService({ VOICE_ANSWER_TIMEOUT_MS: '300' });

  /** Holds the businesses table locked (the number lookup waits) until the returned function is called. */
  async function lockBusinesses(): Promise<() => Promise<void>> {
    const trx = await ctx.knex.transaction();
    await trx.raw('LOCK TABLE businesses IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await trx.rollback();
    };
  }

  /** Refuses this call's fallback row (status failed) until the returned function is called. */
  const refuseFailedRow = (callSid: string) =>
    refuseCallRow(ctx.knex, callSid, 'refuse_fallback', "status <> 'failed'");

  /** Posts the voice webhook for a number whose lookup hangs (the businesses table locked): the spoken fallback. */
  async function answerWithFallback(callSid: string, businessNumber: string): Promise<void> {
    const res = await postAsTwilio(ctx.service.port, '/twilio/voice', {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: businessNumber,
      Direction: 'inbound',
      CallStatus: 'ringing',
    });
    expect(res.status).to.equal(200);
    expect(res.body).to.include('<Say>');
    expect(res.body).not.to.include('<Connect');
  }

  /**
   * A call answered with the fallback whose row Postgres refused once: the constraint and the lock
   * are lifted as soon as the webhook is seen retrying. Returns its CallSid.
   */
  async function fallbackRowRefusedOnce(): Promise<string> {
    const callSid = uniqueCallSid();
    const business = await createTestBusiness(ctx.knex);
    const allowRow = await refuseFailedRow(callSid);
    const unlock = await lockBusinesses();
    try {
      await answerWithFallback(callSid, business.phoneNumber);
      await waitFor(async () => (await scrapeMetric(ctx.service.port, 'webhook_call_record_retries_total')) >= 1, {
        message: 'the webhook retrying the refused row',
      });
    } finally {
      await unlock();
      await allowRow();
    }
    return callSid;
  }

  const events = async (callSid: string) => (await readTimeline(ctx.redis, callSid)).map((e) => e.event);

  it('is written again once Postgres takes it', async () => {
    const callSid = await fallbackRowRefusedOnce();
    const calls = createCallRepository(ctx.knex);
    await waitFor(async () => (await calls.findByCallSid(callSid))?.status === 'failed', { message: 'row written' });
    expect((await calls.findByCallSid(callSid))?.endReason).to.equal('fallback:webhook_timeout');
    await waitFor(async () => (await events(callSid)).includes('call.ended'), { message: 'call.ended' });
    expect(await events(callSid)).not.to.include('call.record_failed');
    expect(await scrapeMetric(ctx.service.port, 'webhook_call_record_failures_total')).to.equal(0);
  });

  it('a webhook stopped while it retries the row writes it before it closes the database', async () => {
    const callSid = await fallbackRowRefusedOnce();
    // SIGTERM during the retry's wait: stop() must let it land, not close Postgres under it.
    await ctx.service.stop();
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row?.status).to.equal('failed');
    expect(row?.endReason).to.equal('fallback:webhook_timeout');
  });

  it('says so on the timeline and counts it when every retry is refused', async () => {
    const callSid = uniqueCallSid();
    const business = await createTestBusiness(ctx.knex);
    const allowRow = await refuseFailedRow(callSid);
    try {
      const unlock = await lockBusinesses();
      try {
        await answerWithFallback(callSid, business.phoneNumber);
      } finally {
        await unlock();
      }
      await waitFor(async () => (await events(callSid)).includes('call.ended'), {
        timeoutMs: 15_000,
        message: 'the webhook giving up on the row',
      });
    } finally {
      await allowRow();
    }
    const timeline = await readTimeline(ctx.redis, callSid);
    const failed = timeline.find((e) => e.event === 'call.record_failed');
    expect(failed?.fields.attempts).to.equal(String(CALL_ROW_RETRY_DELAYS_MS.length + 1));
    expect(failed?.fields.error).to.match(/refuse_fallback_/);
    expect(timeline.map((e) => e.event).indexOf('call.record_failed')).to.be.lessThan(
      timeline.map((e) => e.event).indexOf('call.ended'),
    );
    expect(await scrapeMetric(ctx.service.port, 'webhook_call_record_failures_total')).to.equal(1);
  });
});
