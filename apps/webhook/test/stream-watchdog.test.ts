import { expect } from 'chai';
import { createCallRepository, uniqueCallSid } from '@voice/db';
import { callKeys } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { TEST_ACCOUNT_SID } from '../../../test/support/env.js';
import { postAsTwilio } from '../../../test/support/twilio-http.js';
import { createTestBusiness } from '../../../test/support/business.js';
import { timelineEvents } from '../../../test/support/redis.js';
import { useWebhookService } from './helpers/webhook-context.js';

const WATCHDOG_MS = 300;

describe('webhook: the call-side stream watchdog', function () {
  const ctx = useWebhookService({ STREAM_WATCHDOG_MS: String(WATCHDOG_MS), STREAM_WATCHDOG_SWEEP_MS: '100' });

  async function answer(callSid: string, to: string): Promise<void> {
    const res = await postAsTwilio(ctx.service.port, '/twilio/voice', {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: to,
    });
    expect(res.status).to.equal(200);
  }

  it('records a call whose media stream never opened as failed, and cleans up its keys', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    await answer(callSid, business.phoneNumber);
    await waitFor(async () => (await timelineEvents(ctx.redis, callSid)).includes('call.ended'), {
      message: 'watchdog verdict',
    });
    const events = await timelineEvents(ctx.redis, callSid);
    expect(events.slice(-2)).to.deep.equal(['stream.never_started', 'call.ended']);
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row?.status).to.equal('failed');
    expect(row?.endReason).to.equal('no_stream');
    expect(await ctx.redis.exists(callKeys.token(callSid), callKeys.meta(callSid), callKeys.prompt(callSid))).to.equal(
      0,
    );
  });

  it('leaves a call whose stream started alone', async () => {
    const business = await createTestBusiness(ctx.knex);
    const started = uniqueCallSid();
    const neverStarted = uniqueCallSid();
    await answer(started, business.phoneNumber);
    await createCallRepository(ctx.knex).markStreamStarted(started, { at: new Date(), gatewayInstance: 'gw-test' });
    await answer(neverStarted, business.phoneNumber);
    // Once the later call is judged, a sweep has covered the earlier one too: it must have said nothing.
    await waitFor(async () => (await timelineEvents(ctx.redis, neverStarted)).includes('call.ended'), {
      message: 'watchdog verdict',
    });
    expect(await timelineEvents(ctx.redis, started)).not.to.include('stream.never_started');
    expect((await createCallRepository(ctx.knex).findByCallSid(started))?.endedAt).to.equal(null);
  });

  it('ends each never-started call once, whatever the number of webhook replicas sweeping', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSids = Array.from({ length: 5 }, () => uniqueCallSid());
    await Promise.all(callSids.map((sid) => answer(sid, business.phoneNumber)));
    await new Promise((resolve) => setTimeout(resolve, WATCHDOG_MS));
    const repo = createCallRepository(ctx.knex);
    const window = {
      answeredBefore: new Date(),
      answeredAfter: new Date(Date.now() - 60_000),
      limit: 100,
      endReason: 'no_stream',
    };
    // Three sweeps at once, as three replicas would run them, plus the service's own.
    const results = await Promise.all([
      repo.failNeverStarted(window),
      repo.failNeverStarted(window),
      repo.failNeverStarted(window),
    ]);
    const ended = results
      .flat()
      .map((r) => r.callSid)
      .filter((sid) => callSids.includes(sid));
    expect(new Set(ended).size, 'no call ended twice').to.equal(ended.length);
    await waitFor(
      async () =>
        (await Promise.all(callSids.map((sid) => repo.findByCallSid(sid)))).every((row) => row?.status === 'failed'),
      { message: 'all ended' },
    );
  });
});

describe('webhook: the stream watchdog on a replica without the prebuild worker', function () {
  // Every replica may run with the worker elsewhere: the sweeps must not go with it.
  const ctx = useWebhookService({
    STREAM_WATCHDOG_MS: String(WATCHDOG_MS),
    STREAM_WATCHDOG_SWEEP_MS: '100',
    PREBUILD_WORKER_ENABLED: 'false',
  });

  it('still ends a call whose media stream never opened', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    const res = await postAsTwilio(ctx.service.port, '/twilio/voice', {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: business.phoneNumber,
    });
    expect(res.status).to.equal(200);
    await waitFor(async () => (await timelineEvents(ctx.redis, callSid)).includes('stream.never_started'), {
      message: 'watchdog verdict',
    });
    expect((await createCallRepository(ctx.knex).findByCallSid(callSid))?.endReason).to.equal('no_stream');
  });
});
