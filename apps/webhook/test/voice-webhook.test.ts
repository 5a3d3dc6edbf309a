import { expect } from 'chai';
import twilio from 'twilio';
import { Queue } from 'bullmq';
import { createCallRepository, uniqueCallSid } from '@voice/db';
import { callKeys, QUEUE_NAMES, readTimeline, sharedKeys } from '@voice/redis';
import { parsePrebuiltPrompt } from '@voice/agent';
import { waitFor } from '@voice/testkit';
import { PUBLIC_BASE_URL, PUBLIC_STREAM_URL, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../../test/support/env.js';
import { postAsTwilio } from '../../../test/support/twilio-http.js';
import { createTestBusiness, TEST_GREETING } from '../../../test/support/business.js';
import { timelineEvents } from '../../../test/support/redis.js';
import { useWebhookService } from './helpers/webhook-context.js';

describe('webhook: POST /twilio/voice', function () {
  const ctx = useWebhookService();
  let queue: Queue;

  beforeEach(() => {
    queue = new Queue(QUEUE_NAMES.prebuild, { connection: ctx.redis, prefix: sharedKeys(ctx.namespace).bullPrefix });
  });
  afterEach(async () => {
    await queue.close();
  });

  function voiceParams(callSid: string, to: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: to,
      Direction: 'inbound',
      CallStatus: 'ringing',
      ...extra,
    };
  }

  const post = (path: string, params: Record<string, string>, signature?: string | null) =>
    postAsTwilio(ctx.service.port, path, params, signature);

  it('answers a known number with <Connect action><Stream> plus parameters, and prebuilds the prompt', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    const res = await post('/twilio/voice', voiceParams(callSid, business.phoneNumber));

    expect(res.status).to.equal(200);
    expect(res.body).to.include(`<Stream url="${PUBLIC_STREAM_URL}/${callSid}"`);
    expect(res.body).to.match(/<Parameter name="callToken" value="[\w-]{16,}"\/>/);
    expect(res.body).to.include(`<Parameter name="businessId" value="${business.id}"/>`);
    expect(res.body).to.include('<Parameter name="direction" value="inbound"/>');
    // What to do when the stream ends is the action URL's answer (routes/connect-action.ts), not verbs after </Connect>.
    expect(res.body).to.include(`<Connect action="${PUBLIC_BASE_URL}/twilio/connect-action" method="POST">`);
    expect(res.body).to.match(/<\/Connect><\/Response>$/);
    expect(res.body).not.to.match(/url="[^"]*\?/); // Twilio strips query strings: never rely on one

    const token = /name="callToken" value="([^"]+)"/.exec(res.body)![1];
    expect(await ctx.redis.get(callKeys.token(callSid))).to.equal(token);

    await waitFor(async () => (await ctx.redis.exists(callKeys.prompt(callSid))) === 1, { message: 'prebuilt prompt' });
    const prompt = parsePrebuiltPrompt((await ctx.redis.get(callKeys.prompt(callSid)))!)!;
    expect(prompt.greeting).to.equal(TEST_GREETING);
    expect(prompt.instructions.length).to.be.within(100, 1500);
    expect(await ctx.redis.ttl(callKeys.prompt(callSid))).to.be.greaterThan(0);

    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row?.businessId).to.equal(business.id);
    expect(row?.status).to.equal('received');
    await waitFor(async () => (await timelineEvents(ctx.redis, callSid)).includes('prompt.prebuilt'));
    expect(await timelineEvents(ctx.redis, callSid)).to.deep.equal([
      'webhook.received',
      'prebuild.enqueued',
      'prompt.prebuilt',
    ]);
  });

  it('does not enqueue a second prebuild job when Twilio retries the webhook', async () => {
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    const first = await post('/twilio/voice', voiceParams(callSid, business.phoneNumber));
    const second = await post('/twilio/voice', voiceParams(callSid, business.phoneNumber));
    expect(first.status).to.equal(200);
    expect(second.status).to.equal(200);
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(1);
  });

  it("reuses a business's cached prompt for its next calls: no job, and a Twilio retry offers nothing twice", async () => {
    const business = await createTestBusiness(ctx.knex);
    const first = uniqueCallSid();
    await post('/twilio/voice', voiceParams(first, business.phoneNumber));
    await waitFor(async () => (await timelineEvents(ctx.redis, first)).includes('prompt.prebuilt'), {
      message: 'the first call prebuilt by the job',
    });

    const second = uniqueCallSid();
    const res = await post('/twilio/voice', voiceParams(second, business.phoneNumber));
    expect(res.status).to.equal(200);
    // The prompt is there when the answer is: no job to wait for.
    const prompt = parsePrebuiltPrompt((await ctx.redis.get(callKeys.prompt(second)))!)!;
    expect(prompt.greeting).to.equal(TEST_GREETING);
    expect(prompt.instructions).to.equal(
      parsePrebuiltPrompt((await ctx.redis.get(callKeys.prompt(first)))!)!.instructions,
    );
    const timeline = await readTimeline(ctx.redis, second);
    expect(timeline.map((e) => e.event)).to.deep.equal(['webhook.received', 'prompt.prebuilt']);
    expect(timeline[1]!.fields).to.include({ source: 'cache', duplicate: 'false' });
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    expect(
      Object.values(counts).reduce((a, b) => a + b, 0),
      'jobs: the first call only',
    ).to.equal(1);

    await post('/twilio/voice', voiceParams(second, business.phoneNumber));
    const retried = (await readTimeline(ctx.redis, second)).filter((e) => e.event === 'prompt.prebuilt');
    expect(retried.map((e) => e.fields.duplicate)).to.deep.equal(['false', 'true']);
  });

  it('builds the prompt again (a job) once the business is edited', async () => {
    const business = await createTestBusiness(ctx.knex);
    const first = uniqueCallSid();
    await post('/twilio/voice', voiceParams(first, business.phoneNumber));
    await waitFor(async () => (await timelineEvents(ctx.redis, first)).includes('prompt.prebuilt'));

    const newGreeting = 'Hello, this is the new greeting of Test Dental.';
    await ctx.knex('businesses').where({ id: business.id }).update({ greeting: newGreeting });
    const second = uniqueCallSid();
    await post('/twilio/voice', voiceParams(second, business.phoneNumber));
    await waitFor(async () => (await timelineEvents(ctx.redis, second)).includes('prompt.prebuilt'), {
      message: 'the edited business prebuilt by a job',
    });
    expect(await timelineEvents(ctx.redis, second)).to.deep.equal([
      'webhook.received',
      'prebuild.enqueued',
      'prompt.prebuilt',
    ]);
    expect(parsePrebuiltPrompt((await ctx.redis.get(callKeys.prompt(second)))!)!.greeting).to.equal(newGreeting);
  });

  it('rejects an unsigned webhook with 400 and a forged one with 403, enqueuing nothing', async () => {
    const business = await createTestBusiness(ctx.knex);
    const unsigned = await post('/twilio/voice', voiceParams(uniqueCallSid(), business.phoneNumber), null);
    const forged = await post('/twilio/voice', voiceParams(uniqueCallSid(), business.phoneNumber), 'Zm9yZ2Vk');
    const params = voiceParams(uniqueCallSid(), business.phoneNumber);
    const signedForOtherBody = twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, PUBLIC_BASE_URL + '/twilio/voice', {
      ...params,
      To: '+15550000000',
    });
    const tampered = await post('/twilio/voice', params, signedForOtherBody);

    expect(unsigned.status).to.equal(400);
    expect(unsigned.body).to.match(/Missing X-Twilio-Signature/);
    expect(forged.status).to.equal(403);
    expect(tampered.status).to.equal(403);
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(0);
  });

  it('answers an unknown number with a spoken message and a hangup, and records it', async () => {
    const callSid = uniqueCallSid();
    const res = await post('/twilio/voice', voiceParams(callSid, '+15559990000'));
    expect(res.status).to.equal(200);
    expect(res.body).to.match(/^<\?xml[^>]+><Response><Say>[^<]*not in service[^<]*<\/Say><Hangup\/><\/Response>$/);
    expect(res.body).not.to.include('<Connect>');
    expect(await timelineEvents(ctx.redis, callSid)).to.deep.equal(['webhook.received', 'webhook.unknown_number']);
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row?.status).to.equal('rejected');
    expect(row?.businessId).to.equal(null);
  });

  it('answers malformed parameters with 400 and a body that names the field', async () => {
    const params = { AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: '+15005550006', CallSid: 'not-a-sid' };
    const res = await post('/twilio/voice', params);
    expect(res.status).to.equal(400);
    expect(res.body).to.match(/CallSid must be a Twilio Call SID/);
    const missingTo = await post('/twilio/voice', {
      CallSid: uniqueCallSid(),
      AccountSid: TEST_ACCOUNT_SID,
      From: '+1555',
    });
    expect(missingTo.status).to.equal(400);
    expect(missingTo.body).to.match(/To /);
  });

  it('records Twilio stream status callbacks on the timeline', async () => {
    const callSid = uniqueCallSid();
    const res = await post('/twilio/stream-status', {
      CallSid: callSid,
      StreamSid: 'MZ1',
      StreamEvent: 'stream-error',
      StreamError: 'boom',
    });
    expect(res.status).to.equal(204);
    expect(await timelineEvents(ctx.redis, callSid)).to.deep.equal(['twilio.stream_status']);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    const base = `http://127.0.0.1:${ctx.service.port}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.include('webhook_voice_requests_total');
  });
});
