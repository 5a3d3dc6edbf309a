import { expect } from 'chai';
import { Queue } from 'bullmq';
import { createCallRepository, uniqueCallSid } from '@voice/db';
import { QUEUE_NAMES, callKeys, sharedKeys } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { TEST_ACCOUNT_SID } from '../../../test/support/env.js';
import { postAsTwilio } from '../../../test/support/twilio-http.js';
import { createTestBusiness } from '../../../test/support/business.js';
import { timelineEvents } from '../../../test/support/redis.js';
import { useWebhookService } from './helpers/webhook-context.js';

const WATCHDOG_MS = 300;

describe('webhook: the call-side stream watchdog', function () {
  const ctx = useWebhookService({ STREAM_WATCHDOG_MS: String(WATCHDOG_MS) });

  async function answer(callSid: string, to: string): Promise<void> {
    const res = await postAsTwilio(ctx.service.port, '/twilio/voice', { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: to });
    expect(res.status).to.equal(200);
  }

  it('records a call whose media stream never opened as failed, and cleans up its keys', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    await answer(callSid, business.phoneNumber);
    await waitFor(async () => (await timelineEvents(ctx.redis, callSid)).includes('call.ended'), { message: 'watchdog verdict' });
    const events = await timelineEvents(ctx.redis, callSid);
    expect(events.slice(-2)).to.deep.equal(['stream.never_started', 'call.ended']);
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row?.status).to.equal('failed');
    expect(row?.endReason).to.equal('no_stream');
    expect(await ctx.redis.exists(callKeys.token(callSid), callKeys.meta(callSid), callKeys.prompt(callSid))).to.equal(0);
  });

  it('leaves a call whose stream started alone', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    await answer(callSid, business.phoneNumber);
    await createCallRepository(ctx.knex).markStreamStarted(callSid, { at: new Date(), gatewayInstance: 'gw-test' });
    // Wait until the watchdog job has run (completed), then check it said nothing.
    const queue = new Queue(QUEUE_NAMES.streamWatchdog, { connection: ctx.redis, prefix: sharedKeys(ctx.namespace).bullPrefix });
    await waitFor(async () => (await queue.getJob(`watchdog-${callSid}`))?.finishedOn !== undefined, { message: 'watchdog job done' });
    await queue.close();
    expect(await timelineEvents(ctx.redis, callSid)).not.to.include('stream.never_started');
  });
});
