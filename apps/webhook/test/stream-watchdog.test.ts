import { expect } from 'chai';
import twilio from 'twilio';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { createCallRepository, prepareTestDatabase, uniqueCallSid } from '@voice/db';
import { createLogger } from '@voice/logging';
import { QUEUE_NAMES, callKeys, sharedKeys } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { loadWebhookConfig } from '../src/config.js';
import { createWebhookService, type WebhookService } from '../src/webhook-service.js';
import { PUBLIC_BASE_URL, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, baseTestEnv, uniqueNamespace } from '../../../test/support/env.js';
import { createTestBusiness } from '../../../test/support/business.js';
import { assertionRedis, deleteNamespace, timelineEvents } from '../../../test/support/redis.js';

const WATCHDOG_MS = 300;

describe('webhook: the call-side stream watchdog', function () {
  let knex: Knex;
  let redis: Redis;
  let service: WebhookService;
  let namespace: string;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
  });
  after(async () => {
    await knex.destroy();
    await redis.quit();
  });
  beforeEach(async () => {
    namespace = uniqueNamespace();
    const config = loadWebhookConfig(baseTestEnv(namespace, { STREAM_WATCHDOG_MS: String(WATCHDOG_MS) }));
    service = createWebhookService(config, createLogger({ service: 'webhook', instance: 'test', level: config.logLevel }));
    await service.start();
  });
  afterEach(async () => {
    await service.stop();
    await deleteNamespace(redis, namespace);
  });

  async function answer(callSid: string, to: string): Promise<void> {
    const params = { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: to };
    const signature = twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params);
    const res = await fetch(`http://127.0.0.1:${service.port}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).to.equal(200);
  }

  it('records a call whose media stream never opened as failed, and cleans up its keys', async () => {
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    await answer(callSid, business.phoneNumber);
    await waitFor(async () => (await timelineEvents(redis, callSid)).includes('call.ended'), { message: 'watchdog verdict' });
    const events = await timelineEvents(redis, callSid);
    expect(events.slice(-2)).to.deep.equal(['stream.never_started', 'call.ended']);
    const row = await createCallRepository(knex).findByCallSid(callSid);
    expect(row?.status).to.equal('failed');
    expect(row?.endReason).to.equal('no_stream');
    expect(await redis.exists(callKeys.token(callSid), callKeys.meta(callSid), callKeys.prompt(callSid))).to.equal(0);
  });

  it('leaves a call whose stream started alone', async () => {
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    await answer(callSid, business.phoneNumber);
    await createCallRepository(knex).markStreamStarted(callSid, { at: new Date(), gatewayInstance: 'gw-test' });
    // Wait until the watchdog job has run (completed), then check it said nothing.
    const queue = new Queue(QUEUE_NAMES.streamWatchdog, { connection: redis, prefix: sharedKeys(namespace).bullPrefix });
    await waitFor(async () => (await queue.getJob(`watchdog-${callSid}`))?.finishedOn !== undefined, { message: 'watchdog job done' });
    await queue.close();
    expect(await timelineEvents(redis, callSid)).not.to.include('stream.never_started');
  });
});
