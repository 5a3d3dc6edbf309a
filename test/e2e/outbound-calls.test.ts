/**
 * Outbound calls as a business sees them: POST /calls places the call through
 * the Twilio REST double (the real twilio SDK), the session is prebuilt and
 * warmed while it rings, and the callee double answers: a person is greeted at
 * once; an answering machine gets the business's voicemail message after its
 * beep, then a hangup; a fax is hung up on; busy and no-answer finalize the
 * row. With no bridge room, nobody is dialed (503). The API's errors name what
 * is wrong.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createCallRepository, uniqueCallSid, uniquePhoneNumber } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import { waitFor, type CalleeBehaviour, type OutboundCall } from '@voice/testkit';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { refuseCallRow } from '../support/refuse-call-row.js';
import { deleteNamespace } from '../support/redis.js';
import { startSilentServer } from '../support/silent-server.js';
import { TEST_API_TOKEN, postCalls, startOutboundHarness, type OutboundHarness } from '../support/outbound.js';
import { CallFailedError, CallUsageError, parseCallArgs, placeCallFromCli } from '../../scripts/lib/call-cli.js';
import type { StackOptions } from '../support/stack.js';
import { idempotencyHashes } from '../../apps/webhook/src/outbound/idempotency.js';

const OUTBOUND_PROMPT = 'You are calling a patient of Test Dental to confirm tomorrow at ten. Be brief.';
const VOICEMAIL =
  'Hi, this is Test Dental calling about your appointment tomorrow at ten. Please call us back. Goodbye.';
/** Twilio answers the webhook a while after calls.create: the phone rings (the warm session is made meanwhile). */
const RING_MS = 2500;

describe('e2e: outbound calls', function () {
  this.timeout(90_000);
  let harness: OutboundHarness;
  let behaviour: CalleeBehaviour;
  let owned: string[] | undefined;

  beforeEach(async () => {
    behaviour = { answer: 'human', ringMs: RING_MS };
    owned = undefined;
    harness = await startOutboundHarness({ callee: () => behaviour, ownedNumbers: () => owned });
  });
  // Registered before the stack's hooks, so it runs first: callees still on the line hang up
  // (and their final status callbacks are answered) while the stack is still up.
  afterEach(() => harness.rest.stop());
  const ctx = useE2EContext();

  async function start(options: StackOptions = {}) {
    const stack = await ctx.start({ ...options, env: { ...harness.env(), ...options.env } });
    harness.attach(stack);
    return stack;
  }

  async function place(from: string, to = uniquePhoneNumber()): Promise<{ callSid: string; call: OutboundCall }> {
    const res = await postCalls(ctx.stack!.webhook.port, { to, from });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const callSid = res.body.callSid as string;
    expect(callSid).to.match(/^CA[0-9a-f]{32}$/);
    const call = harness.rest.outboundCalls.get(callSid);
    expect(call, 'the REST double placed the call').to.not.equal(undefined);
    return { callSid, call: call! };
  }

  const timelineUntil = async (callSid: string, event: string): Promise<TimelineEntry[]> => {
    await waitFor(async () => eventNames(await readTimeline(ctx.redis, callSid)).includes(event), {
      timeoutMs: 20_000,
      message: `${event} on ${callSid}`,
    });
    return readTimeline(ctx.redis, callSid);
  };

  it('greets a person who answers, from the session warmed while it rang, with the outbound prompt', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex, {
      outboundAiPrompt: OUTBOUND_PROMPT,
      greeting: 'Hi, this is Test Dental calling.',
    });
    behaviour = {
      answer: 'human',
      ringMs: RING_MS,
      caller: { script: [{ silenceMs: 3000 }], hangupWhenScriptEnds: true },
    };
    const to = uniquePhoneNumber();
    const { callSid, call } = await place(business.phoneNumber, to);
    expect(await call.done).to.equal('completed');
    const summary = await call.caller!.done;
    const timeline = await finishedTimeline(ctx.redis, callSid);
    const order = eventNames(timeline);

    // What Twilio was asked: the business number calls the callee, with async AMD and both callbacks.
    const create = harness.rest.requests.find((r) => r.callSid === callSid && r.path.endsWith('/Calls.json'))!;
    expect(create.params).to.include({
      To: to,
      From: business.phoneNumber,
      MachineDetection: 'DetectMessageEnd',
      AsyncAmd: 'true',
    });
    expect(create.params.StatusCallback).to.match(/\/twilio\/call-status$/);
    expect(create.params.AsyncAmdStatusCallback).to.match(/\/twilio\/amd-status$/);
    // The answer's webhook is an outbound one: From is the business.
    expect(findEvent(timeline, 'webhook.received')?.fields).to.include({
      direction: 'outbound',
      from: business.phoneNumber,
      to,
    });

    // Warmed while ringing, greeted at once.
    expect(order.indexOf('outbound.placed')).to.be.lessThan(order.indexOf('warm.ready'));
    expect(order.indexOf('warm.ready'), 'warm before the callee answered').to.be.lessThan(
      order.indexOf('webhook.received'),
    );
    expect(findEvent(timeline, 'call.metrics')?.fields.greeting_path).to.equal('warm');
    expect(ctx.stack!.realtime.totalConnections, 'one model session').to.equal(1);
    expect(ctx.stack!.realtime.sessions[0]!.config.instructions).to.include('confirm tomorrow at ten');
    expect(summary.heardAudibleMs, 'the callee heard the agent').to.be.greaterThan(500);

    expect(findEvent(timeline, 'call.answered_by')?.fields).to.include({ answered_by: 'human', action: 'converse' });
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row).to.include({
      direction: 'outbound',
      from: business.phoneNumber,
      to,
      answeredBy: 'human',
      status: 'completed',
      businessId: business.id,
    });
    expect(summary.spokenByTwilio, 'no voicemail for a person').to.deep.equal([]);
    // Twilio's final `completed` came after the bridge finalized the call: nothing ended it again.
    expect(
      (await readTimeline(ctx.redis, callSid)).filter((e) => e.event === 'call.ended'),
      'finalized once',
    ).to.have.length(1);
    expect(row?.endReason).to.not.equal('no_stream');
    reportFigure(
      'outbound, answered by a person: ms from START to first greeting audio (as heard)',
      summary.firstAudioAtMs!,
    );
  });

  it('leaves the voicemail after the beep of an answering machine, then hangs up', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex, { voicemailMessage: VOICEMAIL });
    behaviour = { answer: 'machine', ringMs: RING_MS };
    const { callSid, call } = await place(business.phoneNumber);
    expect(await call.done).to.equal('completed');
    const summary = await call.caller!.done;

    // The agent greeted at START (the machine's greeting talked over it: a barge-in); at
    // machine_end_beep the stream was ended (the agent stopped) and the message was said in its
    // place, then the hangup.
    expect(summary.receivedMediaMessages, 'the agent greeted at START').to.be.greaterThan(0);
    expect(summary.streamEndedBy, 'Twilio ended the stream for the redirect').to.equal('twilio');
    const said = summary.spokenByTwilio.filter((s) => s.phase === 'redirect');
    expect(said.map((s) => s.text)).to.deep.equal([VOICEMAIL]);
    expect(summary.endedBy).to.equal('twiml-hangup');
    const amdAt = call.amdPostedAt!;
    const saidAt = call.caller!.placedAt + said[0]!.callMs;
    expect(saidAt, 'the message after the beep').to.be.greaterThan(amdAt);

    const timeline = await timelineUntil(callSid, 'call.ended');
    expect(findEvent(timeline, 'call.answered_by')?.fields).to.include({
      answered_by: 'machine_end_beep',
      action: 'voicemail',
    });
    expect(findEvent(timeline, 'outbound.voicemail')?.fields.chars).to.equal(String(VOICEMAIL.length));
    await waitFor(async () => (await createCallRepository(ctx.knex).findByCallSid(callSid))?.endedAt != null, {
      message: 'row finalized',
    });
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row).to.include({ answeredBy: 'machine_end_beep', direction: 'outbound' });
    expect(
      timeline.filter((e) => e.event === 'call.ended'),
      'finalized once',
    ).to.have.length(1);
    reportFigure(
      'outbound voicemail: ms from the AMD callback (machine_end_beep) to the message starting, as the callee heard',
      saidAt - amdAt,
    );
  });

  it('leaves the voicemail even when Postgres refuses to record who answered', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex, { voicemailMessage: VOICEMAIL });
    behaviour = { answer: 'machine', ringMs: RING_MS };
    const { callSid, call } = await place(business.phoneNumber);
    // A real refusal of the bookkeeping write.
    const allow = await refuseCallRow(ctx.knex, callSid, 'refuse_amd', 'answered_by IS NULL');
    try {
      await call.done;
      const summary = await call.caller!.done;
      const said = summary.spokenByTwilio.filter((s) => s.phase === 'redirect');
      expect(
        said.map((s) => s.text),
        'Twilio does not send the AMD result twice',
      ).to.deep.equal([VOICEMAIL]);
      const timeline = await timelineUntil(callSid, 'outbound.voicemail');
      expect(findEvent(timeline, 'call.answered_by')?.fields.answered_by).to.equal('machine_end_beep');
    } finally {
      await allow();
    }
  });

  it('leaves the voicemail when Twilio fails the redirect once (a 500): it is asked again', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex, { voicemailMessage: VOICEMAIL });
    behaviour = { answer: 'machine', ringMs: RING_MS };
    const { callSid, call } = await place(business.phoneNumber);
    harness.rest.failNextCallUpdates(1);
    await call.done;
    const summary = await call.caller!.done;
    expect(summary.spokenByTwilio.filter((s) => s.phase === 'redirect').map((s) => s.text)).to.deep.equal([VOICEMAIL]);
    const updates = harness.rest.requests.filter((r) => r.callSid === callSid && r.method === 'POST' && r.params.Twiml);
    expect(updates, 'the failed redirect and the one that worked').to.have.length(2);
    const timeline = await timelineUntil(callSid, 'outbound.voicemail');
    expect(findEvent(timeline, 'outbound.voicemail')?.fields).to.include({ attempts: '2' });
  });

  it('hangs up on a fax', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex, { voicemailMessage: VOICEMAIL });
    behaviour = { answer: 'fax', ringMs: RING_MS };
    const { callSid, call } = await place(business.phoneNumber);
    await call.done;
    const summary = await call.caller!.done;
    expect(summary.endedBy).to.equal('api-hangup');
    expect(summary.spokenByTwilio).to.deep.equal([]);
    const timeline = await timelineUntil(callSid, 'outbound.hangup');
    expect(findEvent(timeline, 'outbound.hangup')?.fields.reason).to.equal('fax');
    expect((await createCallRepository(ctx.knex).findByCallSid(callSid))?.answeredBy).to.equal('fax');
  });

  for (const [answer, status] of [
    ['busy', 'busy'],
    ['no-answer', 'no_answer'],
  ] as const) {
    it(`finalizes the row of a call that was ${answer}`, async () => {
      await start();
      const business = await createTestBusiness(ctx.knex);
      behaviour = { answer, ringMs: 300 };
      const { callSid, call } = await place(business.phoneNumber);
      expect(await call.done).to.equal(answer);
      const timeline = await timelineUntil(callSid, 'call.ended');
      expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal(status);
      expect(findEvent(timeline, 'twilio.call_status')?.fields.call_status).to.equal('queued');
      const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
      expect(row).to.include({ status, endReason: status, direction: 'outbound', streamStartedAt: null });
      expect(row?.endedAt).to.be.instanceOf(Date);
      expect(call.caller, 'nobody answered').to.equal(undefined);
      // The session warmed while it rang is closed soon after, not held until WARM_SESSION_TTL_MS (30 s).
      const stack = ctx.stack!;
      await waitFor(() => stack.realtime.openSessionCount === 0, { timeoutMs: 10_000, message: 'warm session closed' });
      const expired = findEvent(await readTimeline(ctx.redis, callSid), 'warm.expired');
      if (expired) expect(expired.fields.reason).to.equal('call_over');
    });
  }

  it('a call whose status callbacks were lost is still finalized: the webhook asks Twilio about it', async () => {
    await start({ env: { PLACED_CALL_STALE_MS: '500', PLACED_CALL_SWEEP_MS: '200' } });
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'no-answer', ringMs: 300, statusCallbacksLost: true };
    const { callSid, call } = await place(business.phoneNumber);
    expect(await call.done).to.equal('no-answer');
    expect(call.events, 'no callback reached the webhook').to.deep.equal([]);

    const timeline = await timelineUntil(callSid, 'call.ended');
    expect(findEvent(timeline, 'twilio.call_status')?.fields).to.include({ call_status: 'no-answer', source: 'sweep' });
    expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal('no_answer');
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row).to.include({ status: 'no_answer', endReason: 'no_answer' });
    const asked = harness.rest.requests.filter((r) => r.method === 'GET' && r.callSid === callSid);
    expect(asked.length, 'the call was fetched from Twilio').to.be.greaterThan(0);
  });

  it('dials nobody while the bridges are full: 503 with Retry-After, until a ringing call gives its place back', async () => {
    // One place: the first call takes it while it rings (its warm session), the second must wait.
    const stack = await start({ bridgeEnv: { BRIDGE_MAX_CALLS: '1' } });
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'no-answer', ringMs: 4000 };
    const first = await place(business.phoneNumber);

    const refused = await postCalls(stack.webhook.port, { to: uniquePhoneNumber(), from: business.phoneNumber });
    expect(refused.status, JSON.stringify(refused.body)).to.equal(503);
    expect(refused.retryAfter).to.equal('5');
    expect(refused.body.error).to.match(/nobody was dialed/);
    // The first call's place is reserved, or in the bridge's load, or (until the bridge's next report) both: never neither.
    const { spare, reserved } = refused.body.room as { spare: number; reserved: number };
    expect(spare, JSON.stringify(refused.body.room)).to.be.at.most(reserved);
    expect(harness.rest.outboundCalls.size, 'only the first call was placed').to.equal(1);

    // Taken by the bridge's warm session, the call is in its load instead of reserved: still full.
    await waitFor(() => stack.realtime.openSessionCount === 1, { timeoutMs: 10_000, message: 'warm session' });
    await waitFor(async () => (await ctx.redis.zcard(`{${stack.namespace}}:outbound:reserved`)) === 0, {
      timeoutMs: 5000,
      message: 'the reservation handed to the bridge load',
    });
    const stillFull = await postCalls(stack.webhook.port, { to: uniquePhoneNumber(), from: business.phoneNumber });
    expect(stillFull.body.room).to.deep.equal({ spare: 0, reserved: 0 });

    // Nobody answered: the warm session closes, the bridge has room again, the next call is dialed.
    expect(await first.call.done).to.equal('no-answer');
    await waitFor(
      async () =>
        (await postCalls(stack.webhook.port, { to: uniquePhoneNumber(), from: business.phoneNumber })).status === 201,
      { timeoutMs: 15_000, message: 'a call placed once the bridge has room' },
    );
    expect(harness.rest.outboundCalls.size).to.equal(2);
  });

  it('an Idempotency-Key makes a retried POST /calls safe: the same CallSid, one callee dialed', async () => {
    await start();
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'busy', ringMs: 300 };
    const to = uniquePhoneNumber();
    const key = { 'Idempotency-Key': `retry-${uniqueCallSid()}` };
    const first = await postCalls(ctx.stack!.webhook.port, { to, from: business.phoneNumber }, undefined, key);
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    const again = await postCalls(ctx.stack!.webhook.port, { to, from: business.phoneNumber }, undefined, key);
    expect(again.status).to.equal(201);
    expect(again.body.callSid).to.equal(first.body.callSid);
    expect(again.replayed).to.equal('true');
    expect(harness.rest.outboundCalls.size, 'dialed once').to.equal(1);
    // The key reused for another callee is refused, not answered with the first call.
    const reused = await postCalls(
      ctx.stack!.webhook.port,
      { to: uniquePhoneNumber(), from: business.phoneNumber },
      undefined,
      key,
    );
    expect(reused.status, JSON.stringify(reused.body)).to.equal(422);
    expect(reused.body.field).to.equal('Idempotency-Key');
    expect(harness.rest.outboundCalls.size, 'nobody else dialed').to.equal(1);
    // Another key is another call; a key that is not printable ASCII is named.
    const other = await postCalls(ctx.stack!.webhook.port, { to, from: business.phoneNumber }, undefined, {
      'Idempotency-Key': `other-${uniqueCallSid()}`,
    });
    expect(other.status).to.equal(201);
    expect(harness.rest.outboundCalls.size).to.equal(2);
    const bad = await postCalls(ctx.stack!.webhook.port, { to, from: business.phoneNumber }, undefined, {
      'Idempotency-Key': 'x'.repeat(300),
    });
    expect(bad.status).to.equal(400);
    expect(bad.body.field).to.equal('Idempotency-Key');
  });

  it('Twilio not answering POST /calls: 504 with an unknown outcome, and a retry with the key dials nobody again', async () => {
    const twilio = await startSilentServer();
    try {
      await start({ env: { TWILIO_API_BASE_URL: twilio.url, TWILIO_REST_TIMEOUT_MS: '1000' } });
      const business = await createTestBusiness(ctx.knex);
      const body = { to: uniquePhoneNumber(), from: business.phoneNumber };
      const key = { 'Idempotency-Key': `unknown-${uniqueCallSid()}` };
      const webhook = ctx.stack!.webhook.port;
      const [first, meanwhile] = await Promise.all([
        postCalls(webhook, body, undefined, key),
        new Promise((resolve) => setTimeout(resolve, 300)).then(() => postCalls(webhook, body, undefined, key)),
      ]);
      expect(first.status, JSON.stringify(first.body)).to.equal(504);
      expect(first.body.outcome).to.equal('unknown');
      expect(meanwhile.status, 'the same key while the first is being placed').to.equal(409);
      const retry = await postCalls(webhook, body, undefined, key);
      expect(retry.status).to.equal(504);
      expect(retry.replayed).to.equal('true');
      expect(twilio.connections, 'Twilio was asked once').to.equal(1);
    } finally {
      await twilio.stop();
    }
  });

  it('an Idempotency-Key outlives Redis: after Redis lost every shared key, a retry replays the first answer', async () => {
    const stack = await start();
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'busy', ringMs: 300 };
    const body = { to: uniquePhoneNumber(), from: business.phoneNumber };
    const key = { 'Idempotency-Key': `redis-lost-${uniqueCallSid()}` };
    const first = await postCalls(stack.webhook.port, body, undefined, key);
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    // What a Redis restart without persistence leaves of the namespace: nothing.
    await deleteNamespace(ctx.redis, stack.namespace);
    const again = await postCalls(stack.webhook.port, body, undefined, key);
    expect(again.status, JSON.stringify(again.body)).to.equal(201);
    expect(again.replayed).to.equal('true');
    expect(again.body.callSid).to.equal(first.body.callSid);
    expect(harness.rest.outboundCalls.size, 'dialed once').to.equal(1);
  });

  it('a retry of a request whose webhook died mid-placement gets 504 outcome unknown and dials nobody', async () => {
    const stack = await start();
    const business = await createTestBusiness(ctx.knex);
    const key = `died-${uniqueCallSid()}`;
    // What a webhook killed between taking the key and answering leaves behind, three minutes on.
    const body = { to: uniquePhoneNumber(), from: business.phoneNumber };
    const { keyHash, requestHash } = idempotencyHashes(key, body);
    await ctx.knex('outbound_requests').insert({
      key_hash: keyHash,
      request_hash: requestHash,
      state: 'in_flight',
      started_at: ctx.knex.raw("now() - interval '3 minutes'"),
    });
    for (const attempt of ['first retry', 'second retry']) {
      const retry = await postCalls(stack.webhook.port, body, undefined, { 'Idempotency-Key': key });
      expect(retry.status, `${attempt}: ${JSON.stringify(retry.body)}`).to.equal(504);
      expect(retry.body.outcome).to.equal('unknown');
      expect(retry.replayed).to.equal('true');
    }
    expect(harness.rest.outboundCalls.size, 'nobody dialed').to.equal(0);
  });

  it('calls from the first number of a business named by businessId', async () => {
    await start();
    const second = uniquePhoneNumber();
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'busy', ringMs: 100 };
    await ctx.knex('business_phone_numbers').insert({ phone_number: second, business_id: business.id });
    const first = [business.phoneNumber, second].sort()[0]!;
    const res = await postCalls(ctx.stack!.webhook.port, { to: uniquePhoneNumber(), businessId: business.id });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const row = await createCallRepository(ctx.knex).findByCallSid(res.body.callSid as string);
    expect(row?.from).to.equal(first);
  });

  it('answers bad requests with the field, a bad token with 401, an unknown business with 404, a Twilio refusal with 502', async () => {
    const stack = await start();
    const business = await createTestBusiness(ctx.knex);
    const port = stack.webhook.port;
    const to = uniquePhoneNumber();

    const badTo = await postCalls(port, { to: '555-1234', from: business.phoneNumber });
    expect(badTo).to.deep.include({ status: 400 });
    expect(badTo.body.field).to.equal('to');
    expect(badTo.body.error).to.match(/E\.164/);
    expect((await postCalls(port, { to })).body.field).to.equal('from');
    expect((await postCalls(port, { to, from: business.phoneNumber, businessId: business.id })).body.field).to.equal(
      'businessId',
    );
    expect((await postCalls(port, { to, form: business.phoneNumber })).body.field).to.equal('form');
    expect((await postCalls(port, '{not json')).body.field).to.equal('body');

    expect((await postCalls(port, { to, from: business.phoneNumber }, null)).status).to.equal(401);
    expect((await postCalls(port, { to, from: business.phoneNumber }, 'wrong-token')).status).to.equal(401);

    const unknown = await postCalls(port, { to, from: uniquePhoneNumber() });
    expect(unknown.status).to.equal(404);
    expect(unknown.body.field).to.equal('from');
    expect((await postCalls(port, { to, businessId: '00000000-0000-4000-8000-000000000000' })).status).to.equal(404);

    // Twilio refuses a From the account does not own: its own code and message come back.
    owned = ['+15005550006'];
    const refused = await postCalls(port, { to, from: business.phoneNumber });
    expect(refused.status).to.equal(502);
    expect(refused.body.error).to.include('is not yet verified for your account');
    expect(refused.body.twilio).to.include({ code: 21210, status: 400 });
    expect(harness.rest.outboundCalls.size, 'no call was placed').to.equal(0);
  });

  it('npm run call places a call and prints its CallSid; its mistakes are named', async () => {
    const stack = await start();
    const business = await createTestBusiness(ctx.knex);
    behaviour = { answer: 'busy', ringMs: 100 };
    const url = `http://127.0.0.1:${stack.webhook.port}`;
    const to = uniquePhoneNumber();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        'scripts/call.ts',
        '--to',
        to,
        '--from',
        business.phoneNumber,
        '--url',
        url,
      ],
      {
        env: { ...process.env, API_TOKEN: TEST_API_TOKEN },
      },
    );
    const callSid = stdout.trim();
    expect(callSid).to.match(/^CA[0-9a-f]{32}$/);
    expect((await createCallRepository(ctx.knex).findByCallSid(callSid))?.to).to.equal(to);

    const env = { API_TOKEN: TEST_API_TOKEN };
    expect(() => parseCallArgs(['--to', to], env)).to.throw(CallUsageError, /exactly one of --from and --business/);
    expect(() => parseCallArgs(['--to', to, '--from', business.phoneNumber], {})).to.throw(CallUsageError, /API_TOKEN/);
    const bad = parseCallArgs(['--to', 'nope', '--business', business.id, '--url', url], env);
    await placeCallFromCli(bad).then(
      () => expect.fail('placed a call to a bad number'),
      (err: Error) => {
        expect(err).to.be.instanceOf(CallFailedError);
        expect(err.message).to.match(/400: to must be an E\.164 number/);
      },
    );
  });
});
