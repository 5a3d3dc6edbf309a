/**
 * Warm sessions: the model session is opened, configured and asked for the
 * greeting while the phone rings, so the greeting is waiting when START
 * arrives. Edge cases: the call never connects, START comes before the warm
 * session is ready, and barge-in over a pre-generated greeting (a warm bridge
 * that dies: bridge-failover.test.ts). Assertions are about what happened, never how fast.
 */
import { expect } from 'chai';
import { uniqueCallSid } from '@voice/db';
import { FRAME_MS } from '@voice/protocols';
import { callKeys, readTimeline } from '@voice/redis';
import { LONG_REPLY_TEXT, waitFor, type TwilioCallerDouble } from '@voice/testkit';
import { BRIDGE_DEFAULTS } from '../../apps/realtime-bridge/src/config.js';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { scrapeMetric } from '../support/metrics.js';
import { postAsTwilio } from '../support/twilio-http.js';
import type { Stack } from '../support/stack.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { TEST_ACCOUNT_SID } from '../support/env.js';

/** Twilio opens the media stream a second or more after the webhook; the caller double waits this long before START. */
const RINGING_MS = 2000;
/** Waits here are for something to happen, never measurements: generous for a loaded 2-core CI machine. */
const SLOW_MACHINE_MS = 30_000;
/** START is held back until the app got somewhere; the gateway must not give up on it meanwhile. */
const START_MAY_WAIT = { START_TIMEOUT_MS: String(SLOW_MACHINE_MS + 1000) };
/** Audible audio that says the greeting was heard, not only its first syllable. */
const HEARD_GREETING_MS = 500;

describe('e2e: warm sessions', function () {
  this.timeout(90_000);
  const ctx = useE2EContext();

  const finished = (callSid: string) => finishedTimeline(ctx.redis, callSid);
  const reached = (callSid: string, event: string) =>
    waitFor(async () => names(await readTimeline(ctx.redis, callSid)).includes(event), {
      timeoutMs: SLOW_MACHINE_MS,
      message: event,
    });

  it('has the greeting waiting when START arrives, on the one session opened while ringing', async () => {
    const { knex } = ctx;
    const stack = await ctx.start({ gatewayEnv: START_MAY_WAIT });
    const business = await createTestBusiness(knex, { greeting: 'Hi, this is the warm path.' });
    // START once the bridge holds greeting audio for the call (it counts held deltas too): not after a
    // guessed ringing time. A scrape that fails on a loaded machine is a "not yet".
    const deltas = () => scrapeMetric(stack.bridges[0]!.port, 'bridge_tx_audio_deltas_total').catch(() => 0);
    const greetingHeld = () =>
      waitFor(async () => (await deltas()) > 0, {
        timeoutMs: SLOW_MACHINE_MS,
        message: 'greeting audio held at the bridge',
      });
    const call = stack.call(business.phoneNumber, { startWhen: greetingHeld, script: [{ silenceMs: 1000 }] });
    await waitFor(() => greetingHeard(stack, call), {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'the caller heard the greeting',
    });
    const summary = await call.hangup();
    const timeline = await finished(summary.callSid);
    const order = names(timeline);
    expect(order.indexOf('warm.ready'), 'warm before START').to.be.lessThan(order.indexOf('stream.started'));
    expect(find(timeline, 'warm.joined')?.fields.greeting_ready).to.equal('true');
    expect(find(timeline, 'call.metrics')?.fields.greeting_path).to.equal('warm');
    expect(stack.realtime.totalConnections, 'one model session').to.equal(1);
    expect(summary.heardAudibleMs).to.be.greaterThan(HEARD_GREETING_MS);
    reportFigure('warm (in-process): first greeting audio after START, as heard', summary.firstAudioAtMs!);
  });

  it('closes a warm session whose call never connects, and counts it', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start({ bridgeEnv: { WARM_SESSION_TTL_MS: '800' } });
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    const params = { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: business.phoneNumber };
    const res = await postAsTwilio(stack.webhook.port, '/twilio/voice', params);
    expect(res.status).to.equal(200);
    await waitFor(async () => names(await readTimeline(redis, callSid)).includes('warm.expired'), {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'warm.expired',
    });
    const running = stack;
    await waitFor(() => running.realtime.openSessionCount === 0, {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'model session closed',
    });
    expect(running.realtime.totalConnections).to.equal(1);
    expect(await redis.exists(callKeys.owner(callSid), callKeys.prompt(callSid))).to.equal(0);
    expect(
      await scrapeMetric(running.bridges[0]!.port, 'bridge_warm_sessions_expired_total', { reason: 'ttl' }),
    ).to.equal(1);
  });

  it('gives the slot back when a warm session whose set-up failed never gets its call', async () => {
    const { knex, redis } = ctx;
    // The model refuses the key: set-up fails while the phone rings, and the call never connects.
    const stack = await ctx.start({
      realtime: { rejectUpgradeStatus: 401 },
      bridgeEnv: { WARM_SESSION_TTL_MS: '800' },
    });
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    const params = { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: business.phoneNumber };
    expect((await postAsTwilio(stack.webhook.port, '/twilio/voice', params)).status).to.equal(200);
    await waitFor(async () => names(await readTimeline(redis, callSid)).includes('warm.expired'), {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'warm.expired after the failed set-up',
    });
    const timeline = await readTimeline(redis, callSid);
    expect(find(timeline, 'openai.failed')?.fields.reason).to.equal('OPENAI_AUTH');
    expect(names(timeline).indexOf('openai.failed')).to.be.lessThan(names(timeline).indexOf('warm.expired'));
    await waitFor(async () => (await scrapeMetric(stack.bridges[0]!.port, 'bridge_load')) === 0, {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'the bridge has its slot back',
    });
    expect(await redis.exists(callKeys.owner(callSid))).to.equal(0);
  });

  it('lets a START that arrives before the warm session is ready join it: no second session', async () => {
    const { knex } = ctx;
    // The model answers the upgrade only when the test lets it, and START waits until the warm
    // session's connect is under way: START comes after the warm claim and before warm.ready by
    // construction, however slow the machine (a START before the claim is a cold call, another case).
    const stack = await ctx.start({
      realtime: { holdUpgrades: true },
      bridgeEnv: { OPENAI_CONNECT_TIMEOUT_MS: String(SLOW_MACHINE_MS) },
      gatewayEnv: START_MAY_WAIT,
    });
    const business = await createTestBusiness(knex, { greeting: 'Hi, joined early.' });
    const call: TwilioCallerDouble = stack.call(business.phoneNumber, {
      startWhen: () => reached(call.callSid, 'openai.connecting'),
      script: [{ silenceMs: 1000 }],
    });
    await reached(call.callSid, 'stream.started');
    stack.realtime.setBehaviour({ holdUpgrades: false });
    await waitFor(() => greetingHeard(stack, call), {
      timeoutMs: SLOW_MACHINE_MS,
      message: 'the caller heard the greeting',
    });
    const summary = await call.hangup();
    const timeline = await finished(summary.callSid);
    const order = names(timeline);
    expect(order.indexOf('stream.started'), 'START before warm.ready').to.be.lessThan(order.indexOf('warm.ready'));
    expect(find(timeline, 'warm.joined')?.fields.greeting_ready).to.equal('false');
    const claims = timeline.filter((e) => e.event === 'bridge.claimed');
    expect(claims.map((e) => e.fields.reason)).to.deep.equal(['prebuilt']);
    expect(stack.realtime.totalConnections, 'one model session').to.equal(1);
    expect(summary.heardAudibleMs).to.be.greaterThan(HEARD_GREETING_MS);
  });

  it('truncates correctly when the caller talks over a pre-generated greeting', async () => {
    const { knex } = ctx;
    const stack = await ctx.start({ realtime: { greetingText: LONG_REPLY_TEXT, replies: ['Okay.'] } });
    const business = await createTestBusiness(knex);
    const call = stack.call(business.phoneNumber, {
      startDelayMs: RINGING_MS,
      script: [{ silenceMs: 2500 }, { say: 'Sorry, can I stop you there?' }, { silenceMs: 2500 }],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;
    const timeline = await finished(summary.callSid);
    expect(find(timeline, 'call.metrics')?.fields.greeting_path).to.equal('warm');
    const session = stack.realtime.sessions[0]!;
    const greeting = session.responses[0]!;
    expect(session.truncates).to.have.length(1);
    expect(session.truncates[0]!.item_id).to.equal(greeting.itemId);
    const clear = summary.clears[0]!;
    const heard = call
      .heardSegments()
      .filter((s) => s.startMs < clear.atMs)
      .reduce((ms, s) => ms + s.bytes.length / 8, 0);
    expect(session.truncates[0]!.audio_end_ms).to.be.closeTo(heard, FRAME_MS + BRIDGE_DEFAULTS.bargeInMarginMs);
  });
});

const names = eventNames;
const find = findEvent;

/** The caller is hearing the first response of the (one) model session: Twilio echoed a mark of its item as played. */
function greetingHeard(stack: Stack, call: TwilioCallerDouble): boolean {
  const greeting = stack.realtime.sessions[0]?.responses[0];
  const played =
    greeting !== undefined && call.marks.some((m) => m.played === true && m.name.startsWith(`${greeting.itemId}|`));
  return played && call.heardAudibleMs() > HEARD_GREETING_MS;
}
