/**
 * Warm sessions: the model session is opened, configured and asked for the
 * greeting while the phone rings, so the greeting is waiting when START
 * arrives. Edge cases: the call never connects, START comes before the warm
 * session is ready, the warm bridge dies, and barge-in over a pre-generated
 * greeting. Assertions are about what happened, never how fast.
 */
import { expect } from 'chai';
import twilio from 'twilio';
import { uniqueCallSid } from '@voice/db';
import { FRAME_MS } from '@voice/protocols';
import { callKeys, formatTimeline, readTimeline, sharedKeys } from '@voice/redis';
import {
  LONG_REPLY_TEXT,
  RealtimeDouble,
  freePort,
  placeCall,
  startProcessStack,
  startServiceProcess,
  waitFor,
  type ProcessStack,
  type ServiceProcess,
} from '@voice/testkit';
import { BRIDGE_DEFAULTS } from '../../apps/realtime-bridge/src/config.js';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { PUBLIC_BASE_URL, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_OPENAI_KEY, baseTestEnv, uniqueNamespace } from '../support/env.js';

/** Twilio opens the media stream a second or more after the webhook; the caller double waits this long before START. */
const RINGING_MS = 2000;

describe('e2e: warm sessions', function () {
  this.timeout(90_000);
  const ctx = useE2EContext();

  const finished = (callSid: string) => finishedTimeline(ctx.redis, callSid);

  it('has the greeting waiting when START arrives, on the one session opened while ringing', async () => {
    const { knex } = ctx;
    const stack = await ctx.start();
    const business = await createTestBusiness(knex, { greeting: 'Hi, this is the warm path.' });
    const summary = await stack.call(business.phoneNumber, { startDelayMs: RINGING_MS, script: [{ silenceMs: 3000 }], hangupWhenScriptEnds: true }).done;
    const timeline = await finished(summary.callSid);
    const order = names(timeline);
    expect(order.indexOf('warm.ready'), 'warm before START').to.be.lessThan(order.indexOf('stream.started'));
    expect(find(timeline, 'warm.joined')?.fields.greeting_ready).to.equal('true');
    expect(find(timeline, 'call.metrics')?.fields.greeting_path).to.equal('warm');
    expect(stack.realtime.totalConnections, 'one model session').to.equal(1);
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
    reportFigure('warm (in-process): first greeting audio after START, as heard', summary.firstAudioAtMs!);
  });

  it('closes a warm session whose call never connects, and counts it', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start({ bridgeEnv: { WARM_SESSION_TTL_MS: '800' } });
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    const params = { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: business.phoneNumber };
    const res = await fetch(`http://127.0.0.1:${stack.webhook.port}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(TEST_AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params) },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).to.equal(200);
    await waitFor(async () => names(await readTimeline(redis, callSid)).includes('warm.expired'), { message: 'warm.expired' });
    const running = stack;
    await waitFor(() => running.realtime.openSessionCount === 0, { message: 'model session closed' });
    expect(running.realtime.totalConnections).to.equal(1);
    expect(await redis.exists(callKeys.owner(callSid), callKeys.outbound(callSid))).to.equal(0);
    const metrics = await (await fetch(`http://127.0.0.1:${running.bridges[0]!.port}/metrics`)).text();
    expect(metrics).to.match(/bridge_warm_sessions_expired_total\{[^}]*\} 1/);
  });

  it('lets a START that arrives before the warm session is ready join it: no second session', async () => {
    const { knex } = ctx;
    const stack = await ctx.start({ realtime: { connectDelayMs: 1500 } });
    const business = await createTestBusiness(knex, { greeting: 'Hi, joined early.' });
    const summary = await stack.call(business.phoneNumber, { script: [{ silenceMs: 4000 }], hangupWhenScriptEnds: true }).done;
    const timeline = await finished(summary.callSid);
    const order = names(timeline);
    expect(order.indexOf('stream.started'), 'START before warm.ready').to.be.lessThan(order.indexOf('warm.ready'));
    expect(find(timeline, 'warm.joined')?.fields.greeting_ready).to.equal('false');
    expect(timeline.filter((e) => e.event === 'bridge.claimed')).to.have.length(1);
    expect(stack.realtime.totalConnections, 'one model session').to.equal(1);
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
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
    const heard = call.heardSegments().filter((s) => s.startMs < clear.atMs).reduce((ms, s) => ms + s.bytes.length / 8, 0);
    expect(session.truncates[0]!.audio_end_ms).to.be.closeTo(heard, FRAME_MS + BRIDGE_DEFAULTS.bargeInMarginMs);
  });
});

const names = eventNames;
const find = findEvent;

describe('e2e: a warm bridge that dies', function () {
  this.timeout(90_000);
  const ctx = useE2EContext();
  let realtime: RealtimeDouble;
  let processes: ProcessStack | undefined;
  let secondBridge: ServiceProcess | undefined;

  before(async () => {
    realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY });
    await realtime.start();
  });
  after(async () => {
    await secondBridge?.stop();
    await processes?.stop();
    await realtime.stop();
  });

  it('falls back to a cold session on another bridge, with one greeting', async () => {
    const { knex, redis } = ctx;
    const namespace = uniqueNamespace();
    const env = {
      ...baseTestEnv(namespace),
      LOG_LEVEL: 'warn',
      HEARTBEAT_MS: '300',
      // START comes 6 s after the socket opens here, to give the test time to kill a bridge.
      START_TIMEOUT_MS: '15000',
      OPENAI_BASE_URL: realtime.baseURL,
      OPENAI_API_KEY: TEST_OPENAI_KEY,
      NODE_EXTRA_CA_CERTS: realtime.certPath,
    };
    // One bridge at first, so the warm session is surely bridge-1's.
    processes = await startProcessStack({ env, bridges: 1, realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY } });
    const running = processes;
    const business = await createTestBusiness(knex, { greeting: 'Hi, second bridge here.' });
    const call = placeCall({
      webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: TEST_AUTH_TOKEN,
      accountSid: TEST_ACCOUNT_SID,
      to: business.phoneNumber,
      resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
      startDelayMs: 6000,
      script: [{ silenceMs: 4000 }],
      hangupWhenScriptEnds: true,
    });
    await waitFor(async () => names(await readTimeline(redis, call.callSid)).includes('warm.ready'), { timeoutMs: 10_000, message: 'warm.ready' });
    await running.byRole('realtime-bridge')[0]!.kill('SIGKILL');
    const port = await freePort();
    secondBridge = await startServiceProcess({ name: 'realtime-bridge', label: 'bridge-2', env: { ...env, BRIDGE_PORT: String(port), INSTANCE_ID: 'bridge-2' }, readyPort: port });
    await waitFor(async () => (await redis.exists(sharedKeys(namespace).bridgeAlive('bridge-1'))) === 0, { message: 'bridge-1 heartbeat expired' });

    const summary = await call.done;
    if (process.env.DEBUG_TIMELINE) console.log(formatTimeline(await readTimeline(redis, summary.callSid)), [...running.processes, secondBridge!].map((p) => p.label + '\n' + p.logs.slice(-3000)).join('\n'));
    const timeline = await finishedTimeline(redis, summary.callSid);
    const claims = timeline.filter((e) => e.event === 'bridge.claimed');
    expect(claims.map((c) => c.instance)).to.deep.equal(['bridge-1', 'bridge-2']);
    expect(claims[1]!.fields.takeover_from).to.equal('bridge-1');
    expect(find(timeline, 'call.metrics')?.fields.greeting_path).to.equal('cold');
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
    const greetingsHeard = call.marks.filter((m) => m.name.endsWith('|0') && m.played).length;
    expect(greetingsHeard, 'one greeting item played').to.equal(1);
  });
});
