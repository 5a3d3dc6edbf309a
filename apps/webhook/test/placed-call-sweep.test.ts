/**
 * The placed-call sweep as several webhook replicas run it: outbound calls
 * whose status callbacks were lost are asked about at Twilio (the REST double,
 * through the real twilio SDK) once each, not once per replica, and each is
 * finalized once with one `twilio.call_status source=sweep` on its timeline.
 */
import { expect } from 'chai';
import { Counter, Registry } from 'prom-client';
import type { Knex } from 'knex';
import { createBusinessRepository, createCallRepository, prepareTestDatabase, uniquePhoneNumber } from '@voice/db';
import { createLogger } from '@voice/logging';
import { Timeline, quitRedis, readTimeline, type RedisClient } from '@voice/redis';
import { createTwilioClient } from '@voice/protocols/twilio-rest';
import { TwilioRestDouble } from '@voice/testkit';
import { PlacedCallSweeper } from '../src/outbound/placed-call-sweeper.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../../test/support/env.js';
import { assertionRedis } from '../../../test/support/redis.js';

const REPLICAS = 3;
const CALLS = 4;

describe('webhook: the placed-call sweep across replicas', function () {
  this.timeout(30_000);
  let knex: Knex;
  let redis: RedisClient;
  let rest: TwilioRestDouble;

  before(async () => {
    knex = (await prepareTestDatabase()).knex;
    redis = assertionRedis();
    rest = new TwilioRestDouble({
      accountSid: TEST_ACCOUNT_SID,
      authToken: TEST_AUTH_TOKEN,
      outbound: {
        // Nobody answers and no callback is posted: no URL is ever reached.
        callee: () => ({ answer: 'no-answer', ringMs: 50, statusCallbacksLost: true }),
        resolveUrl: (url) => url,
        resolveStreamUrl: (url) => url,
      },
    });
    await rest.start();
  });
  after(async () => {
    await rest.stop();
    await knex.destroy();
    await quitRedis(redis);
  });

  /** The real SDK, pointed at the REST double, as each replica has its own. */
  const twilioClient = () =>
    createTwilioClient({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN, apiBaseUrl: rest.baseURL });

  function replica(index: number): PlacedCallSweeper {
    const logger = createLogger({ service: 'webhook', instance: `replica-${index}`, level: 'silent' });
    return new PlacedCallSweeper({
      twilio: twilioClient(),
      redis,
      calls: createCallRepository(knex),
      timeline: new Timeline({ redis, app: 'webhook', instance: `replica-${index}`, logger }),
      logger,
      staleAfterMs: 0,
      recheckAfterMs: 60_000,
      outcomes: new Counter({ name: 'sweeps', help: 'sweeps', labelNames: ['outcome'], registers: [new Registry()] }),
    });
  }

  it('asks Twilio about each lost call once and finalizes it once, however many replicas sweep at once', async () => {
    const from = uniquePhoneNumber();
    const business = await createBusinessRepository(knex).create({
      name: 'Sweep Co',
      aiPrompt: 'You call people.',
      greeting: 'Hello.',
      phoneNumbers: [from],
    });
    const twilio = twilioClient();
    const calls = createCallRepository(knex);
    const callSids: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      const to = uniquePhoneNumber();
      const call = await twilio.calls.create({ to, from, url: 'https://example.test/voice' });
      await calls.recordPlaced({ callSid: call.sid, businessId: business.id, from, to });
      callSids.push(call.sid);
    }
    await Promise.all(callSids.map((sid) => rest.outboundCalls.get(sid)!.done));

    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => replica(i).sweep()));

    for (const callSid of callSids) {
      const fetched = rest.requests.filter((r) => r.method === 'GET' && r.callSid === callSid);
      expect(fetched.length, `${callSid} asked about once`).to.equal(1);
      const timeline = await readTimeline(redis, callSid);
      const statuses = timeline.filter((e) => e.event === 'twilio.call_status');
      expect(statuses, `${callSid}: one twilio.call_status`).to.have.length(1);
      expect(statuses[0]?.fields).to.include({ call_status: 'no-answer', source: 'sweep' });
      expect(timeline.filter((e) => e.event === 'call.ended')).to.have.length(1);
      expect(await calls.findByCallSid(callSid)).to.include({ status: 'no_answer', endReason: 'no_answer' });
    }
  });
});
