/**
 * A call survives its gateway: two gateway processes and one bridge process,
 * the Twilio caller double following `<Connect action>` as Twilio does, and a
 * round-robin "load balancer" that sends each new stream to a gateway that is
 * still up. A SIGKILLed gateway's call reconnects through the action URL to
 * the other gateway and the bridge re-attaches it to the same model session
 * (no second greeting); with no reconnect, the bridge closes the model session
 * after GATEWAY_REATTACH_GRACE_MS and finalizes the call; a Twilio connection that
 * breaks under a live gateway is reconnected the same way; a SIGTERMed gateway
 * hands every live call over; a call that ended on purpose is not reconnected;
 * a caller who hangs up while a broken stream is down ends an ordinary call
 * (the bridge asks the Twilio REST double), not gateway_lost.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createCallRepository, prepareTestDatabase } from '@voice/db';
import { readTimeline, type RedisClient, type TimelineEntry } from '@voice/redis';
import {
  RealtimeDouble,
  TwilioRestDouble,
  placeCall,
  startProcessStack,
  waitFor,
  type PlaceCallOptions,
  type ProcessStack,
  type ScriptSegment,
  type TwilioCallerDouble,
} from '@voice/testkit';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { assertionRedis } from '../support/redis.js';

const GRACE_MS = 4000;
/** The bound on closing the model session after a gateway death with no reconnect. */
const CLOSE_SLACK_MS = 2000;
const GREETING = 'Hello from the reattach office.';
const FIRST_TURN: readonly ScriptSegment[] = [
  { silenceMs: 2500 },
  { say: 'I need a cleaning.' },
  { silenceMs: 30_000 },
];
const AFTER_RECONNECT: readonly ScriptSegment[] = [
  { silenceMs: 800 },
  { say: 'Are you still there?' },
  { silenceMs: 4000 },
];
const DRAIN_CALLS = 20;

describe('e2e: a gateway dies or drains mid-call (processes)', function () {
  this.timeout(180_000);
  let knex: Knex;
  let redis: RedisClient;
  let realtime: RealtimeDouble;
  /** Twilio's REST API: the bridge asks it whether a call whose stream was lost is still up. */
  let rest: TwilioRestDouble;
  const callers = new Map<string, TwilioCallerDouble>();
  let stack: ProcessStack;
  /** Gateways (indexes) the load balancer may send a new stream to. */
  let up: number[];
  let turn = 0;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
    realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY });
    await realtime.start();
    rest = new TwilioRestDouble({
      accountSid: TEST_ACCOUNT_SID,
      authToken: TEST_AUTH_TOKEN,
      inboundStatus: (callSid) => callers.get(callSid)?.twilioStatus,
    });
    await rest.start();
  });
  beforeEach(async () => {
    stack = await startProcessStack({
      env: {
        ...baseTestEnv(uniqueNamespace()),
        LOG_LEVEL: 'warn',
        GATEWAY_REATTACH_GRACE_MS: String(GRACE_MS),
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_API_BASE_URL: rest.baseURL,
      },
      gateways: 2,
      bridges: 1,
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
    });
    up = [0, 1];
    turn = 0;
  });
  afterEach(async () => {
    await stack.stop();
    realtime.setBehaviour({ rejectUpgradeStatus: undefined });
  });
  after(async () => {
    await realtime.stop();
    await rest.stop();
    await knex.destroy();
    await redis.quit();
  });

  /** Gateway process `index` (by label: the stack lists processes in the order they became ready). */
  const gateway = (index: number) => stack.processes.find((p) => p.label === `gateway-${index + 1}`)!;

  /** Every stream to gateway `first` until told otherwise, then round robin over the gateways still up. */
  function call(to: string, first: number, extra: Partial<PlaceCallOptions> = {}): TwilioCallerDouble {
    let streams = 0;
    const caller = placeCall({
      webhookUrl: `http://127.0.0.1:${stack.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: TEST_AUTH_TOKEN,
      accountSid: TEST_ACCOUNT_SID,
      to,
      resolveStreamUrl: (url) => {
        const gateway = streams++ === 0 ? first : up[turn++ % up.length]!;
        return `ws://127.0.0.1:${stack.gatewayPorts[gateway]}${new URL(url).pathname}`;
      },
      script: FIRST_TURN,
      reconnectScript: AFTER_RECONNECT,
      hangupWhenScriptEnds: true,
      ...extra,
    });
    callers.set(caller.callSid, caller);
    return caller;
  }
  const events = async (callSid: string): Promise<TimelineEntry[]> => readTimeline(redis, callSid);
  /** The webhook's `stream.action` entry (written as the TwiML goes out, so it may land just after). */
  const actionEntry = async (callSid: string): Promise<TimelineEntry> => {
    let entry: TimelineEntry | undefined;
    await waitFor(
      async () => (entry = (await events(callSid)).find((e) => e.event === 'stream.action')) !== undefined,
      { message: 'stream.action' },
    );
    return entry!;
  };
  /** The call stayed on one model session across its streams: greeted once, answering after the reconnect too. */
  function expectOneSessionGreetedOnce(sessionsBefore: number): void {
    const sessions = realtime.sessions.slice(sessionsBefore);
    expect(sessions, 'one model session for the whole call').to.have.length(1);
    const texts = sessions[0]!.responses.map((r) => r.text);
    expect(
      texts.filter((t) => t === GREETING),
      'greeted once',
    ).to.have.length(1);
    expect(texts.length, 'the agent answered after the reconnect too').to.be.at.least(2);
  }
  /** The call's timeline once the bridge has written call.ended. */
  const endedTimeline = async (callSid: string): Promise<TimelineEntry[]> => {
    await waitFor(async () => (await events(callSid)).some((e) => e.event === 'call.ended'), { timeoutMs: 10_000 });
    return events(callSid);
  };
  /** Audible audio that began after `atMs` (ms from the call's first START). */
  const heardAfter = (caller: TwilioCallerDouble, atMs: number) =>
    caller.heardSegments().filter((s) => s.startMs >= atMs && s.bytes.some((b) => b !== 0xff && b !== 0x7f));

  it('SIGKILL: the call reconnects through the action URL to the other gateway; same model session, no second greeting', async () => {
    const business = await createTestBusiness(knex, { greeting: GREETING });
    const sessionsBefore = realtime.sessions.length;
    const caller = call(business.phoneNumber, 0);
    await waitFor(() => caller.heardAudibleMs() > 500, { timeoutMs: 20_000, message: 'greeting heard' });
    const killedAtMs = performance.now() - (caller.sessions[0]!.origin ?? 0);
    up = [1];
    await gateway(0).kill('SIGKILL');

    await waitFor(() => caller.sessions.length === 2, {
      timeoutMs: 15_000,
      message: 'a second stream through <Connect action>',
    }).catch(async (err: unknown) => {
      console.log(
        JSON.stringify({
          actions: caller.connectActions,
          warnings: caller.warnings,
          state: caller.state,
          sessions: caller.sessions.length,
        }),
      );
      console.log(
        (await events(caller.callSid)).map((e) => `${e.event} ${e.app} ${JSON.stringify(e.fields)}`).join('\n'),
      );
      throw err;
    });
    await waitFor(() => heardAfter(caller, caller.streamStartsMs[1]!).length > 0, {
      timeoutMs: 20_000,
      message: 'the agent heard again after the reconnect',
    });
    const summary = await caller.done;

    expect(summary.streams).to.equal(2);
    expect(caller.connectActions[0]!.verbs[0], JSON.stringify(caller.connectActions)).to.include({ verb: 'Connect' });
    expect(summary.spokenByTwilio, 'no fallback spoken').to.deep.equal([]);
    expectOneSessionGreetedOnce(sessionsBefore);
    const timeline = await endedTimeline(caller.callSid);
    const reattached = timeline.find((e) => e.event === 'call.reattached');
    expect(reattached?.fields).to.include({ from_gateway: 'gateway-1', to_gateway: 'gateway-2' });
    expect(timeline.filter((e) => e.event === 'bridge.claimed')).to.have.length(1);
    expect(timeline.find((e) => e.event === 'call.ended')?.fields.end_reason).to.not.equal('gateway_lost');
    expect(
      timeline.map((e) => e.event),
      'not a silent call',
    ).to.not.include('call.silent_failure');
    // The call record counts the whole call, not only its last stream, and keeps the first stream's greeting.
    const calls = createCallRepository(knex);
    await waitFor(async () => (await calls.findByCallSid(caller.callSid))?.status === 'completed', {
      message: 'call row finalized',
    });
    const row = await calls.findByCallSid(caller.callSid);
    expect(row?.rxFrames).to.be.greaterThan(caller.sessions[1]!.sentFrames);
    expect(row?.firstGreetingAudioMs).to.be.a('number').and.to.be.below(caller.streamStartsMs[1]!);

    // The line is back when the second stream starts; the agent is heard again once the caller has spoken on it and the model answered.
    const heardAgain = heardAfter(caller, caller.streamStartsMs[1]!)[0]!;
    reportFigure(
      'gateway SIGKILL: kill -> second stream START (line back, caller audible to the model)',
      caller.streamStartsMs[1]! - killedAtMs,
    );
    reportFigure('gateway SIGKILL: link lost -> re-attached (bridge gap_ms)', Number(reattached!.fields.gap_ms));
    reportFigure(
      "gateway SIGKILL: kill -> agent heard again (includes the caller's 0.8 s pause, turn and reply)",
      heardAgain.startMs - killedAtMs,
    );
    await waitFor(() => realtime.openSessionCount === 0, { timeoutMs: 10_000, message: 'no model session left open' });
  });

  it('the Twilio connection breaks mid-call (gateway alive): the call reconnects through the action URL; same session, no second greeting', async () => {
    const business = await createTestBusiness(knex, { greeting: GREETING });
    const sessionsBefore = realtime.sessions.length;
    up = [0]; // the new stream comes back to the same gateway, which must attach it to the same bridge
    const caller = call(business.phoneNumber, 0);
    await waitFor(() => caller.heardAudibleMs() > 500, { timeoutMs: 20_000, message: 'greeting heard' });
    const brokeAtMs = performance.now() - (caller.sessions[0]!.origin ?? 0);
    caller.breakStream();

    await waitFor(() => caller.sessions.length === 2, {
      timeoutMs: 15_000,
      message: 'a second stream through <Connect action>',
    });
    await waitFor(() => heardAfter(caller, caller.streamStartsMs[1]!).length > 0, {
      timeoutMs: 20_000,
      message: 'the agent heard again after the reconnect',
    });
    const summary = await caller.done;

    expect(summary.streams).to.equal(2);
    expect(summary.spokenByTwilio, 'no fallback spoken').to.deep.equal([]);
    expectOneSessionGreetedOnce(sessionsBefore);
    const timeline = await endedTimeline(caller.callSid);
    const stopped = timeline.filter((e) => e.event === 'stream.stopped');
    expect(stopped[0]?.fields).to.include({ reason: 'socket_lost', handed_over: 'true' });
    expect(timeline.find((e) => e.event === 'link.detached')?.fields).to.include({ reason: 'socket_lost' });
    expect(timeline.find((e) => e.event === 'call.reattached')?.fields).to.include({
      from_gateway: 'gateway-1',
      to_gateway: 'gateway-1',
    });
    expect((await actionEntry(caller.callSid)).fields).to.include({ decision: 'reconnect', reason: 'alive' });
    expect(timeline.find((e) => e.event === 'call.ended')?.fields.end_reason).to.not.equal('gateway_lost');
    reportFigure('Twilio connection broken: break -> second stream START', caller.streamStartsMs[1]! - brokeAtMs);
  });

  it('SIGKILL with no reconnect in time: the model session is closed within the grace + 2 s and the call finalized', async () => {
    const business = await createTestBusiness(knex, { greeting: GREETING });
    // Twilio's action post arrives only after the bridge has given up.
    const caller = call(business.phoneNumber, 0, { connectActionDelayMs: GRACE_MS + CLOSE_SLACK_MS + 1000 });
    await waitFor(() => caller.heardAudibleMs() > 500, { timeoutMs: 20_000, message: 'greeting heard' });
    expect(realtime.openSessionCount).to.equal(1);
    const killedAt = performance.now();
    const killedAtEpoch = Date.now();
    await gateway(0).kill('SIGKILL');

    await waitFor(() => realtime.openSessionCount === 0, {
      timeoutMs: GRACE_MS + 10_000,
      intervalMs: 50,
      message: 'model session closed',
    });
    const closedAfterMs = performance.now() - killedAt;
    reportFigure('gateway SIGKILL, no reconnect: kill -> model session closed', closedAfterMs);
    expect(closedAfterMs).to.be.at.most(GRACE_MS + CLOSE_SLACK_MS);

    await waitFor(
      async () => (await createCallRepository(knex).findByCallSid(caller.callSid))?.endReason === 'gateway_lost',
      { timeoutMs: 10_000, message: 'call row finalized' },
    );
    // The call ended when its stream went away (the link died with the gateway), not when the grace ran out.
    const row = await createCallRepository(knex).findByCallSid(caller.callSid);
    expect(row!.endedAt!.getTime() - killedAtEpoch, 'ended at the loss, not after the grace').to.be.below(GRACE_MS / 2);
    const summary = await caller.done;
    // The late action post finds the call over: the spoken fallback and a hangup, no new stream.
    expect(summary.streams).to.equal(undefined);
    expect(summary.endedBy).to.equal('twiml-hangup');
    expect(summary.spokenByTwilio).to.have.length(1);
    const timeline = await events(caller.callSid);
    expect(timeline.find((e) => e.event === 'call.ended')?.fields.end_reason).to.equal('gateway_lost');
    // The bridge asked Twilio when the grace ran out: the caller was still on the line (waiting for the action).
    expect(timeline.find((e) => e.event === 'twilio.call_status')?.fields).to.include({
      call_status: 'in-progress',
      source: 'reattach_grace',
      end_reason: 'gateway_lost',
    });
    expect((await actionEntry(caller.callSid)).fields).to.include({ decision: 'fallback', reason: 'call_over' });
    expect(realtime.openSessionCount, 'sessions leaked').to.equal(0);
  });

  it('the Twilio connection breaks and the caller hangs up before it is back: an ordinary hangup, not gateway_lost', async () => {
    const business = await createTestBusiness(knex, { greeting: GREETING });
    // Twilio would post the action only after the grace; the caller hangs up first, so it never does.
    const caller = call(business.phoneNumber, 0, { connectActionDelayMs: GRACE_MS + CLOSE_SLACK_MS + 1000 });
    await waitFor(() => caller.heardAudibleMs() > 500, { timeoutMs: 20_000, message: 'greeting heard' });
    caller.breakStream();
    await waitFor(async () => (await events(caller.callSid)).some((e) => e.event === 'link.detached'), {
      message: 'the bridge told the stream is gone',
    });
    const summary = await caller.hangup();
    expect(summary.streams).to.equal(undefined);
    expect(caller.connectActions, 'no action for a call that is over').to.deep.equal([]);

    const timeline = await endedTimeline(caller.callSid);
    expect(timeline.find((e) => e.event === 'twilio.call_status')?.fields).to.include({
      call_status: 'completed',
      source: 'reattach_grace',
      last_action: 'none',
      end_reason: 'caller_hangup_during_reconnect',
    });
    expect(timeline.find((e) => e.event === 'call.ended')?.fields.end_reason).to.equal(
      'caller_hangup_during_reconnect',
    );
    expect(
      rest.requests.filter((r) => r.method === 'GET' && r.callSid === caller.callSid && r.authorized),
      'one status request',
    ).to.have.length(1);
    const calls = createCallRepository(knex);
    await waitFor(async () => Boolean((await calls.findByCallSid(caller.callSid))?.endReason), {
      message: 'call row finalized',
    });
    const row = await calls.findByCallSid(caller.callSid);
    expect(row).to.include({ status: 'completed', endReason: 'caller_hangup_during_reconnect', silentFailure: false });
    await waitFor(() => realtime.openSessionCount === 0, { timeoutMs: 10_000, message: 'no model session left open' });
  });

  it(`SIGTERM with ${DRAIN_CALLS} live calls and another gateway up: every call reconnects, none dropped`, async () => {
    const businesses = await Promise.all(
      Array.from({ length: DRAIN_CALLS }, () => createTestBusiness(knex, { greeting: GREETING })),
    );
    const callers = businesses.map((b) => call(b.phoneNumber, 0));
    await waitFor(() => callers.every((c) => c.heardAudibleMs() > 300), {
      timeoutMs: 60_000,
      message: 'every call greeted',
    });
    const sessionsBefore = realtime.sessions.length;
    up = [1];
    const drainStarted = performance.now();
    const exitCode = await gateway(0).stop();
    reportFigure(`gateway SIGTERM: ${DRAIN_CALLS} calls handed over, exit after`, performance.now() - drainStarted);
    expect(exitCode, 'the drained gateway exits cleanly').to.equal(0);

    await waitFor(() => callers.every((c) => c.sessions.length === 2), {
      timeoutMs: 30_000,
      message: 'every call on a second stream',
    });
    await waitFor(() => callers.every((c) => heardAfter(c, c.streamStartsMs[1]!).length > 0), {
      timeoutMs: 60_000,
      message: 'every call hears the agent again',
    });
    const summaries = await Promise.all(callers.map((c) => c.done));
    const dropped = summaries.filter((s) => s.streams !== 2 || s.spokenByTwilio.length > 0 || s.endedBy !== 'caller');
    const gaps = callers
      .map((c) => c.streamStartsMs[1]! - (drainStarted - (c.sessions[0]!.origin ?? 0)))
      .sort((a, b) => a - b);
    reportFigure(`gateway SIGTERM: dropped calls of ${DRAIN_CALLS}`, dropped.length, 'calls');
    reportFigure('gateway SIGTERM: SIGTERM -> second stream START, median', gaps[Math.floor(gaps.length / 2)]!);
    reportFigure('gateway SIGTERM: SIGTERM -> second stream START, max', gaps.at(-1)!);
    expect(dropped, 'dropped calls').to.deep.equal([]);
    expect(realtime.sessions.length - sessionsBefore, 'no new model sessions').to.equal(0);
    for (const caller of callers) {
      const timeline = await events(caller.callSid);
      expect(timeline.find((e) => e.event === 'call.reattached')?.fields, caller.callSid).to.include({
        from_gateway: 'gateway-1',
        to_gateway: 'gateway-2',
      });
    }
    await waitFor(() => realtime.openSessionCount === 0, { timeoutMs: 15_000, message: 'no model session left open' });
  });

  it('a call that ended on purpose (the fallback) is not reconnected: the action URL answers the spoken fallback and a hangup', async () => {
    const business = await createTestBusiness(knex, { greeting: GREETING });
    // A bad key is fatal: the bridge falls back at once and the gateway closes the stream on purpose.
    realtime.setBehaviour({ rejectUpgradeStatus: 401 });
    const caller = call(business.phoneNumber, 0);
    const summary = await caller.done;
    expect(summary.streams).to.equal(undefined);
    expect(caller.connectActions).to.have.length(1);
    expect(caller.connectActions[0]!.verbs.map((v) => v.verb)).to.deep.equal(['Say', 'Hangup']);
    expect(summary.endedBy).to.equal('twiml-hangup');
    expect((await actionEntry(caller.callSid)).fields).to.include({ decision: 'fallback', reason: 'ended_on_purpose' });
  });
});
