/**
 * A rolling deploy: a bridge process gets SIGTERM with live calls. With another
 * bridge up, each call moves there with its conversation (no greeting again, no
 * fallback, no dropped call) and the old process exits once the last one is
 * handed over. With no other bridge, the calls stay until DRAIN_TIMEOUT_MS and
 * only then go to the fallback. A keypad entry being typed or a tool running at
 * SIGTERM is not cut by the move; keys pressed during the move, or an entry
 * still open when the wait for it runs out, reach the new bridge whole.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { decodeClaim, formatTimeline, readTimeline, sharedKeys, type TimelineEntry } from '@voice/redis';
import {
  RealtimeDouble,
  freePort,
  placeCall,
  startProcessStack,
  startServiceProcess,
  synthesizeMulaw,
  waitFor,
  type ProcessStack,
  type DtmfPress,
  type ServiceProcess,
  type TwilioCallerDouble,
} from '@voice/testkit';
import { dtmfText } from '@voice/agent';
import { createCallRepository, uniquePhoneNumber } from '@voice/db';
import { createTestBusiness } from '../support/business.js';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { reportFigure } from '../support/figures.js';
import { scrapeMetric } from '../support/metrics.js';
import { postCalls, startOutboundHarness } from '../support/outbound.js';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';

const LIVE_CALLS = 20;
const DRAIN_TIMEOUT_MS = 20_000;
/** The bridge's default: a planned move shorter than this plays no hold clip. */
const HOLD_AUDIO_AFTER_MS = 1200;
/** What the model double says after a keypad entry (any user text item). */
const KEYPAD_REPLY = 'Thank you, I have your account number.';
/** Pressing 7 asks the model double for a booking (a function call); then it says this. */
const BOOKING_KEY_TEXT = 'pressed 7';
const BOOKED_REPLY = 'You are booked for Monday.';

describe('e2e: bridge SIGTERM hands its calls over', function () {
  this.timeout(150_000);
  const ctx = useE2EContext();
  let realtime: RealtimeDouble;
  let processes: ProcessStack | undefined;
  let secondBridge: ServiceProcess | undefined;
  let secondBridgePort = 0;
  let env: Record<string, string | undefined>;

  before(async () => {
    realtime = new RealtimeDouble({
      apiKey: TEST_OPENAI_KEY,
      behaviour: {
        replyAfterUserText: KEYPAD_REPLY,
        functionCalls: [
          {
            onTurn: 0,
            onUserText: BOOKING_KEY_TEXT,
            name: 'book_appointment',
            arguments: { customer_name: 'Ada Lovelace', starts_at: '2031-03-03T09:00:00.000Z' },
          },
        ],
        replyAfterToolText: BOOKED_REPLY,
      },
    });
    await realtime.start();
  });
  afterEach(async () => {
    secondBridge?.resume();
    await secondBridge?.stop();
    await processes?.stop();
    secondBridge = undefined;
    processes = undefined;
  });
  after(async () => {
    await realtime.stop();
  });

  async function startSystem(extraEnv: Record<string, string>): Promise<ProcessStack> {
    env = {
      ...baseTestEnv(uniqueNamespace()),
      HEARTBEAT_MS: '300',
      // Twenty sessions set up at once on a shared test machine: setup speed is not what this test is about.
      OPENAI_CONNECT_DEADLINE_MS: '30000',
      BRIDGE_MAX_CALLS: String(LIVE_CALLS + 5),
      LOG_LEVEL: 'warn',
      ...extraEnv,
    };
    processes = await startProcessStack({
      env,
      bridges: 1,
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
    });
    return processes;
  }

  async function startSecondBridge(): Promise<void> {
    const [port, linkPort] = [await freePort(), await freePort()];
    secondBridgePort = port;
    secondBridge = await startServiceProcess({
      name: 'realtime-bridge',
      label: 'bridge-2',
      env: {
        ...env,
        OPENAI_BASE_URL: realtime.baseURL,
        OPENAI_API_KEY: TEST_OPENAI_KEY,
        NODE_EXTRA_CA_CERTS: realtime.certPath,
        BRIDGE_PORT: String(port),
        MEDIA_LINK_PORT: String(linkPort),
        MEDIA_LINK_HOST: '127.0.0.1',
        INSTANCE_ID: 'bridge-2',
      },
      readyPort: port,
    });
  }

  async function placeCalls(
    running: ProcessStack,
    count: number,
    greeting: (i: number) => string,
    silenceMs: number,
    { dtmf = [], booking = false }: { dtmf?: readonly DtmfPress[]; booking?: boolean } = {},
  ): Promise<TwilioCallerDouble[]> {
    const businesses = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        createTestBusiness(ctx.knex, { greeting: greeting(i), appointmentBookingEnabled: booking }),
      ),
    );
    // The double's speech for the greetings, rendered before the calls (a real model has no render
    // time): 20 espeak renders at once block this process for seconds on a loaded machine, and a
    // bridge rightly flags a response that long without audio as a silent failure (seen in CI).
    await Promise.all(Array.from({ length: count }, (_, i) => synthesizeMulaw(greeting(i))));
    return businesses.map((business) =>
      placeCall({
        webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
        publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
        authToken: TEST_AUTH_TOKEN,
        accountSid: TEST_ACCOUNT_SID,
        to: business.phoneNumber,
        resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
        script: [{ silenceMs }],
        dtmf,
        hangupWhenScriptEnds: true,
      }),
    );
  }

  /** Once the call has resumed on the new bridge, the caller hangs up; its finished timeline. */
  async function resumedThenHungUp(caller: TwilioCallerDouble) {
    await waitFor(async () => (await readTimeline(ctx.redis, caller.callSid)).some((e) => e.event === 'call.resumed'), {
      timeoutMs: 15_000,
      message: 'call.resumed',
    });
    const summary = await caller.hangup();
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    return { summary, timeline, label: `timeline\n${formatTimeline(timeline)}` };
  }

  /** Once a keypad entry has been read (after its gap or `#`), the caller hangs up; its finished timeline. */
  async function entryReadThenHungUp(caller: TwilioCallerDouble) {
    await waitFor(
      async () => (await readTimeline(ctx.redis, caller.callSid)).some((e) => e.event === 'dtmf.received'),
      { timeoutMs: 20_000, message: 'the entry read' },
    );
    const summary = await caller.hangup();
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    return { timeline, label: `timeline\n${formatTimeline(timeline)}` };
  }

  /** The greeting was spoken in full and the caller's phone played it (a mark of its item came back played). */
  const greeted = (caller: TwilioCallerDouble, text: string) => {
    const response = realtime.sessions
      .flatMap((s) => s.responses)
      .find((r) => r.text === text && r.status === 'completed');
    return response !== undefined && caller.marks.some((m) => m.name.startsWith(`${response.itemId}|`) && m.played);
  };

  /**
   * One greeted call on bridge-1 and bridge-2 linked to the gateway, for a test that freezes a
   * process (SIGSTOP) for a moment: nobody may take it for dead meanwhile (registry stale after
   * 3 beats, link dead, the claim given up).
   */
  async function greetedCallWithSecondBridge(greeting: string, extraEnv: Record<string, string> = {}) {
    const running = await startSystem({
      DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      HEARTBEAT_MS: '1000',
      MEDIA_LINK_DEAD_MS: '8000',
      CLAIM_TIMEOUT_MS: '8000',
      ...extraEnv,
    });
    const sessionsBefore = realtime.sessions.length;
    const [caller] = await placeCalls(running, 1, () => greeting, 60_000);
    await waitFor(() => greeted(caller!, greeting), { timeoutMs: 15_000, message: 'greeted' });
    await startSecondBridge();
    await waitFor(async () => (await scrapeMetric(secondBridgePort, 'media_link_open')) === 1, {
      timeoutMs: 10_000,
      message: 'the gateway linked to bridge-2',
    });
    return { running, caller: caller!, sessionsBefore };
  }

  /** How many of the model sessions opened since `sessionsBefore` were sent the keypad entry `keys`. */
  const sessionsSentEntry = (keys: string, sessionsBefore: number) =>
    realtime.sessions.slice(sessionsBefore).filter((s) => s.createdItems.some((item) => item.text === dtmfText(keys)))
      .length;

  /** `keys` were one entry, sent to the model by bridge-2 only, and the call never fell back. */
  function expectEntryOnBridge2Only(
    timeline: TimelineEntry[],
    label: string,
    entry: { keys: string; endedBy: 'pause' | 'pound' },
    sessionsBefore: number,
  ) {
    expect(
      timeline.filter((e) => e.event === 'dtmf.received').map((e) => ({ ...e.fields, instance: e.instance })),
      label,
    ).to.deep.equal([{ digit: entry.keys, outcome: 'sent_to_model', ended_by: entry.endedBy, instance: 'bridge-2' }]);
    expect(sessionsSentEntry(entry.keys, sessionsBefore), 'only bridge-2 sent the entry').to.equal(1);
    expect(findEvent(timeline, 'realtime.fallback')).to.equal(undefined);
  }

  it(`${LIVE_CALLS} live calls move to the other bridge: none dropped, no fallback, no second greeting; the old bridge exits when the last has moved`, async () => {
    const running = await startSystem({ DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) });
    const greeting = (i: number) => `Hello from desk ${i + 1}.`;
    // Long calls, hung up by the test once the old bridge is gone.
    const callers = await placeCalls(running, LIVE_CALLS, greeting, 90_000);
    await waitFor(() => callers.every((c, i) => greeted(c, greeting(i))), {
      timeoutMs: 40_000,
      message: 'every call greeted',
    });
    await startSecondBridge();

    const termAt = Date.now();
    const exitCode = await running.byRole('realtime-bridge')[0]!.stop();
    const exitMs = Date.now() - termAt;
    expect(exitCode, 'bridge-1 exit code').to.equal(0);
    // Without the hand-over it would sit until DRAIN_TIMEOUT_MS and then send every call to the fallback.
    expect(exitMs, 'ms from SIGTERM to exit').to.be.lessThan(DRAIN_TIMEOUT_MS - 5000);
    reportFigure(`bridge SIGTERM with ${LIVE_CALLS} live calls: SIGTERM to process exit`, exitMs);

    const resumedOnNewBridge = async () =>
      (
        await Promise.all(
          callers.map(async (c) => (await readTimeline(ctx.redis, c.callSid)).some((e) => e.event === 'call.resumed')),
        )
      ).every(Boolean);
    await waitFor(resumedOnNewBridge, { timeoutMs: 30_000, message: 'every call resumed on bridge-2' });
    // Every call is still up on the new bridge; the callers hang up.
    const summaries = await Promise.all(callers.map((c) => c.hangup()));
    const gaps: number[] = [];
    let holdClips = 0;
    let greetedWarm = 0;
    for (const [i, summary] of summaries.entries()) {
      const timeline = await finishedTimeline(ctx.redis, summary.callSid);
      if (process.env.DEBUG_TIMELINE && i === 0) console.log(formatTimeline(timeline));
      const label = `call ${i}`;
      expect(
        timeline.filter((e) => e.event === 'realtime.fallback'),
        `${label}: fallbacks`,
      ).to.deep.equal([]);
      const resumed = findEvent(timeline, 'call.resumed');
      expect(resumed?.fields, `${label}: call.resumed`).to.include({
        from: 'bridge-1',
        to: 'bridge-2',
        planned: 'true',
        reply: 'none',
      });
      gaps.push(Number(resumed!.fields.gap_ms));
      // The summary names the greeting the caller heard (bridge-1's: warm, or cold when START beat the
      // warm offer on a loaded machine), not bridge-2's resumed session.
      const metrics = findEvent(timeline, 'call.metrics')!.fields;
      const heard = findEvent(timeline, 'warm.joined')?.instance === 'bridge-1' ? 'warm' : 'cold';
      if (heard === 'warm') greetedWarm++;
      expect(metrics.greeting_path, `${label}: greeting_path\n${formatTimeline(timeline)}`).to.equal(heard);
      expect(metrics, `${label}: no greeting breakdown from the resumed session`).to.not.have.property('configure_ms');
      expect(Number(metrics.first_greeting_audio_ms), `${label}: first_greeting_audio_ms`).to.be.lessThan(
        Number(resumed!.ts - findEvent(timeline, 'stream.started')!.ts),
      );
      expect(findEvent(timeline, 'bridge.released')?.fields.reason, `${label}: old bridge let go`).to.equal(
        'handed_over',
      );
      // Not dropped: the call went on to the caller's own hangup, finalized once, by the new bridge.
      const ended = timeline.filter((e) => e.event === 'call.ended');
      expect(
        ended.map((e) => e.instance),
        `${label}: call.ended`,
      ).to.deep.equal(['bridge-2']);
      expect(ended[0]!.fields.end_reason, `${label}: ended by the caller`).to.equal('twilio_stop');
      expect(summary.afterStreamVerbs, `${label}: no TwiML fallback ran`).to.deep.equal([]);
      expect(findEvent(timeline, 'call.silent_failure'), `${label}: not a silent failure`).to.equal(undefined);
      if (Number(resumed!.fields.gap_ms) < HOLD_AUDIO_AFTER_MS)
        expect(holdClipsAfterGreeting(timeline), `${label}: hold clips\n${formatTimeline(timeline)}`).to.equal(0);
      holdClips += holdClipsAfterGreeting(timeline);
    }
    // No second greeting: each greeting was spoken once, on bridge-1's sessions; bridge-2's sessions were given it.
    const responses = realtime.sessions.flatMap((s) => s.responses);
    for (let i = 0; i < LIVE_CALLS; i++)
      expect(responses.filter((r) => r.text === greeting(i)).length, `greetings of call ${i}`).to.equal(1);
    const resumedSessions = realtime.sessions.filter((s) =>
      s.createdItems.some((item) => item.role === 'assistant' && item.text.startsWith('Hello from desk')),
    );
    expect(resumedSessions.length, 'sessions resumed on bridge-2').to.equal(LIVE_CALLS);
    reportFigure('bridge SIGTERM hand-over: max gap (call.resumed gap_ms)', Math.max(...gaps));
    reportFigure('bridge SIGTERM hand-over: hold clips played (all calls)', holdClips, 'clips');
    reportFigure('bridge SIGTERM hand-over: calls greeted warm on bridge-1', greetedWarm, 'calls');
  });

  /** The bridge the newest claim for `callSid` names as the call's previous owner (a move or a take-over). */
  async function movedFrom(callSid: string): Promise<string | undefined> {
    const entries = await ctx.redis.xrevrange(
      sharedKeys(String(env.REDIS_NAMESPACE)).callClaims,
      '+',
      '-',
      'COUNT',
      20,
    );
    const claims = entries.map(([id, fields]) => decodeClaim(id, fields)).filter((c) => c.callSid === callSid);
    return claims[0]?.previousOwner;
  }

  it('a bridge that starts during the drain takes the calls the draining bridge still holds (asked again every HANDOVER_RETRY_MS)', async () => {
    const running = await startSystem({ DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS), HANDOVER_RETRY_MS: '500' });
    const [caller] = await placeCalls(running, 1, () => 'Hello from the late desk.', 60_000);
    await waitFor(() => greeted(caller!, 'Hello from the late desk.'), { timeoutMs: 15_000, message: 'greeted' });

    const termAt = Date.now();
    const exited = running.byRole('realtime-bridge')[0]!.stop();
    // Nowhere to go yet: the call stays on the draining bridge (a wait, not a waitFor: nothing must happen).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const early = eventNames(await readTimeline(ctx.redis, caller!.callSid));
    expect(early).to.not.include('call.resumed');
    expect(early).to.not.include('realtime.fallback');
    await startSecondBridge();
    await exited;
    const exitMs = Date.now() - termAt;
    expect(exitMs, 'ms from SIGTERM to exit').to.be.lessThan(DRAIN_TIMEOUT_MS - 5000);
    await waitFor(
      async () => (await readTimeline(ctx.redis, caller!.callSid)).some((e) => e.event === 'call.resumed'),
      { timeoutMs: 15_000, message: 'call.resumed' },
    );
    const summary = await caller!.hangup();
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    expect(findEvent(timeline, 'call.resumed')?.fields).to.include({
      from: 'bridge-1',
      to: 'bridge-2',
      planned: 'true',
      reply: 'none',
    });
    expect(findEvent(timeline, 'realtime.fallback')).to.equal(undefined);
    expect(timeline.filter((e) => e.event === 'call.ended').map((e) => e.instance)).to.deep.equal(['bridge-2']);
    reportFigure('bridge SIGTERM, second bridge started during the drain: SIGTERM to exit', exitMs);
  });

  it('a keypad entry being typed at SIGTERM is not split: the call moves once the entry has reached the model', async () => {
    // Keys 400 ms apart (the entry gap is 1.5 s): one entry of 14 keys, ended by #, typed over 5.6 s.
    const keys = '12345678901234';
    const firstKeyAtMs = 8000;
    const dtmf: DtmfPress[] = [...keys, '#'].map((digit, i) => ({ atMs: firstKeyAtMs + i * 400, digit }));
    const running = await startSystem({
      DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      // The entry takes 5.6 s: the default cap (4 s) would move the call before its end, by design.
      HANDOVER_REPLY_WAIT_MS: '15000',
    });
    const sessionsBefore = realtime.sessions.length; // the double's sessions of earlier tests
    const [caller] = await placeCalls(running, 1, () => 'Hello from the keypad desk.', 60_000, { dtmf });
    await waitFor(() => greeted(caller!, 'Hello from the keypad desk.'), { timeoutMs: 15_000, message: 'greeted' });
    await startSecondBridge();
    const pressed = async () =>
      (await readTimeline(ctx.redis, caller!.callSid)).filter((e) => e.event === 'caller.dtmf').length;
    await waitFor(async () => (await pressed()) >= 1, { timeoutMs: 20_000, message: 'the first key pressed' });

    const termAt = Date.now();
    const exitCode = await running.byRole('realtime-bridge')[0]!.stop();
    expect(exitCode, 'bridge-1 exit code').to.equal(0);
    const { timeline, label } = await resumedThenHungUp(caller!);
    const pressedAt = timeline.filter((e) => e.event === 'caller.dtmf').map((e) => e.ts);
    expect(pressedAt.at(-1), 'SIGTERM fell inside the entry (else this test shows nothing)').to.be.greaterThan(termAt);
    const entries = timeline.filter((e) => e.event === 'dtmf.received');
    const resumed = findEvent(timeline, 'call.resumed')!;
    const keysBefore = pressedAt.filter((ts) => ts < resumed.ts).length;
    expect(
      entries.map((e) => e.fields),
      label,
    ).to.have.length(1);
    expect(entries[0]!.fields, label).to.include({ digit: keys, outcome: 'sent_to_model', ended_by: 'pound' });
    expect(entries[0]!.instance, 'the entry reached the model on the bridge it was typed on').to.equal('bridge-1');
    expect(keysBefore, 'every key was read before the move').to.equal(keys.length + 1);
    expect(resumed.fields, label).to.include({ from: 'bridge-1', to: 'bridge-2', planned: 'true' });
    // The agent's answer to it was given on bridge-1, once, and bridge-2's session was handed the entry.
    const answers = realtime.sessions.flatMap((s) => s.responses).filter((r) => r.text === KEYPAD_REPLY);
    expect(answers.map((r) => r.status)).to.deep.equal(['completed']);
    expect(sessionsSentEntry(keys, sessionsBefore), 'bridge-1 sent the entry; bridge-2 replayed it').to.equal(2);
    expect(findEvent(timeline, 'realtime.fallback')).to.equal(undefined);
  });

  it('a keypad entry still being typed when HANDOVER_REPLY_WAIT_MS runs out moves with the call: the new bridge reads it whole', async () => {
    // The same 14 keys over 5.6 s, but the drain waits only 1 s for the entry to end.
    const keys = '12345678901234';
    const dtmf: DtmfPress[] = [...keys, '#'].map((digit, i) => ({ atMs: 8000 + i * 400, digit }));
    const running = await startSystem({ DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS), HANDOVER_REPLY_WAIT_MS: '1000' });
    const sessionsBefore = realtime.sessions.length;
    const [caller] = await placeCalls(running, 1, () => 'Hello from the slow keypad desk.', 60_000, { dtmf });
    await waitFor(() => greeted(caller!, 'Hello from the slow keypad desk.'), {
      timeoutMs: 15_000,
      message: 'greeted',
    });
    await startSecondBridge();
    const timelineOf = () => readTimeline(ctx.redis, caller!.callSid);
    await waitFor(async () => (await timelineOf()).some((e) => e.event === 'caller.dtmf'), {
      timeoutMs: 20_000,
      message: 'the first key pressed',
    });

    expect(await running.byRole('realtime-bridge')[0]!.stop(), 'bridge-1 exit code').to.equal(0);
    const { timeline, label } = await entryReadThenHungUp(caller!);
    const resumed = findEvent(timeline, 'call.resumed');
    expect(resumed?.fields, label).to.include({ from: 'bridge-1', to: 'bridge-2', planned: 'true' });
    const pressedAt = timeline.filter((e) => e.event === 'caller.dtmf').map((e) => e.ts);
    expect(pressedAt.length, label).to.equal(keys.length + 1);
    expect(pressedAt[0], 'the entry began on bridge-1').to.be.lessThan(resumed!.ts);
    expect(pressedAt.at(-1), 'and ended after the move').to.be.greaterThan(resumed!.ts);
    expectEntryOnBridge2Only(timeline, label, { keys, endedBy: 'pound' }, sessionsBefore);
  });

  it('a tool still running at SIGTERM is not cut: the call moves once its answer has been spoken', async () => {
    const running = await startSystem({
      DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      HANDOVER_REPLY_WAIT_MS: '15000',
      // The lock below holds the booking for over 2 s; its deadline (3 s by default) must not end it first.
      TOOL_TIMEOUT_MS: '12000',
    });
    const [caller] = await placeCalls(running, 1, () => 'Hello from the booking desk.', 60_000, {
      booking: true,
      dtmf: [
        { atMs: 8000, digit: '7' },
        { atMs: 8200, digit: '#' },
      ],
    });
    await waitFor(() => greeted(caller!, 'Hello from the booking desk.'), { timeoutMs: 15_000, message: 'greeted' });
    await startSecondBridge();
    // The booking tool writes to Postgres: a lock held here keeps it running for as long as the test likes.
    const lock = await ctx.knex.transaction();
    let exited: Promise<number | null> | undefined;
    try {
      await lock.raw('LOCK TABLE appointments IN SHARE MODE');
      await waitFor(async () => (await insertsWaitingForLockIn(ctx.knex)) > 0, {
        timeoutMs: 20_000,
        message: 'the booking tool waiting on the appointments table',
      });
      exited = running.byRole('realtime-bridge')[0]!.stop();
      // The tool runs on: the call stays (a wait, not a waitFor: nothing must happen).
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const early = eventNames(await readTimeline(ctx.redis, caller!.callSid));
      expect(early, 'moved while the tool ran').to.not.include('call.resumed');
    } finally {
      await lock.commit();
    }
    expect(await exited, 'bridge-1 exit code').to.equal(0);
    const { timeline, label, summary } = await resumedThenHungUp(caller!);
    const tool = findEvent(timeline, 'tool.called');
    expect(tool?.fields, label).to.include({ name: 'book_appointment', ok: 'true' });
    expect(tool!.instance, label).to.equal('bridge-1');
    const resumed = findEvent(timeline, 'call.resumed')!;
    expect(resumed.ts, label).to.be.greaterThan(tool!.ts);
    // The agent said the booking on bridge-1, once; bridge-2's session was handed the call and its output.
    expect(resumed.fields, label).to.include({ from: 'bridge-1', to: 'bridge-2', planned: 'true', reply: 'none' });
    const answers = realtime.sessions.flatMap((s) => s.responses).filter((r) => r.text === BOOKED_REPLY);
    expect(answers.map((r) => r.status)).to.deep.equal(['completed']);
    const appointments = await ctx.knex('appointments').where({ call_sid: summary.callSid });
    expect(appointments, 'booked once').to.have.length(1);
    expect(findEvent(timeline, 'realtime.fallback')).to.equal(undefined);
  });

  it('a key pressed while the call is moving reaches the new bridge as an entry; it is not lost with the old one', async () => {
    // bridge-2 is frozen for about a second while the move waits for it.
    const { running, caller, sessionsBefore } = await greetedCallWithSecondBridge('Hello from the moving desk.');
    const bridge2 = secondBridge!;
    bridge2.pause();
    let exited: Promise<number | null>;
    try {
      exited = running.byRole('realtime-bridge')[0]!.stop();
      // The move has begun when the gateway offers the call again, naming bridge-1: it now waits for bridge-2.
      await waitFor(async () => (await movedFrom(caller.callSid)) === 'bridge-1', {
        timeoutMs: 10_000,
        message: 'the move claim',
      });
      expect(caller.press('5'), 'key pressed').to.equal(true);
      await waitFor(
        async () => (await readTimeline(ctx.redis, caller.callSid)).some((e) => e.event === 'caller.dtmf'),
        {
          timeoutMs: 5000,
          message: 'the key read by the gateway',
        },
      );
    } finally {
      bridge2.resume();
    }
    expect(await exited, 'bridge-1 exit code').to.equal(0);
    // The entry ends after the 1.5 s gap.
    const { timeline, label } = await entryReadThenHungUp(caller);
    const resumed = findEvent(timeline, 'call.resumed');
    expect(resumed?.fields, label).to.include({ from: 'bridge-1', to: 'bridge-2', planned: 'true' });
    expect(findEvent(timeline, 'caller.dtmf')!.ts, 'the key was pressed during the move').to.be.lessThan(resumed!.ts);
    expectEntryOnBridge2Only(timeline, label, { keys: '5', endedBy: 'pause' }, sessionsBefore);
  });

  it('a key already on its way to the old bridge when the gateway read its ask to move follows the call to the new bridge', async () => {
    // LOG_LEVEL info: bridge-1's "handing live calls over" line says the ask has been sent.
    const { running, caller, sessionsBefore } = await greetedCallWithSecondBridge('Hello from the in-flight desk.', {
      LOG_LEVEL: 'info',
    });
    // The key waits in the frozen gateway's socket ahead of bridge-1's ask: thawed, the gateway reads
    // the key first (the kernel reports ready sockets in the order they became ready) and sends it
    // to bridge-1, which gets it after it asked to move the call.
    const gateway = running.byRole('media-gateway')[0]!;
    const bridge1 = running.byRole('realtime-bridge')[0]!;
    gateway.pause();
    let exited: Promise<number | null>;
    try {
      expect(caller.press('7'), 'key pressed').to.equal(true);
      exited = bridge1.stop();
      await waitFor(() => bridge1.logs.includes('handing live calls over to other bridges'), {
        timeoutMs: 10_000,
        message: "bridge-1's ask to move the call",
      });
    } finally {
      gateway.resume();
    }
    expect(await exited, 'bridge-1 exit code').to.equal(0);
    const { timeline, label } = await entryReadThenHungUp(caller);
    expect(findEvent(timeline, 'call.resumed')?.fields, label).to.include({ from: 'bridge-1', to: 'bridge-2' });
    expectEntryOnBridge2Only(timeline, label, { keys: '7', endedBy: 'pause' }, sessionsBefore);
  });

  it('an outbound call still ringing at the drain deadline is let go, not sent to the fallback: another bridge greets it', async () => {
    // It rings past bridge-1's drain: a call answered during the drain would go live there and move.
    const drainMs = 3000;
    const ringMs = 8000;
    const harness = await startOutboundHarness({
      callee: () => ({
        answer: 'human',
        ringMs,
        caller: { script: [{ silenceMs: 4000 }], hangupWhenScriptEnds: true },
      }),
    });
    try {
      const running = await startSystem({ DRAIN_TIMEOUT_MS: String(drainMs), ...harness.env() });
      harness.attach(running);
      const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, this is the ringing desk calling.' });
      await synthesizeMulaw('Hi, this is the ringing desk calling.');
      const placed = await postCalls(running.webhookPort, { to: uniquePhoneNumber(), from: business.phoneNumber });
      expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
      const callSid = placed.body.callSid as string;
      await waitFor(async () => eventNames(await readTimeline(ctx.redis, callSid)).includes('warm.ready'), {
        timeoutMs: 15_000,
        message: 'warm.ready on bridge-1 while it rings',
      });
      await startSecondBridge();

      const termAt = Date.now();
      expect(await running.byRole('realtime-bridge')[0]!.stop(), 'bridge-1 exit code').to.equal(0);
      const exitMs = Date.now() - termAt;
      const call = harness.rest.outboundCalls.get(callSid)!;
      expect(await call.done).to.equal('completed');
      const summary = await call.caller!.done;
      const timeline = await finishedTimeline(ctx.redis, callSid);
      const label = `timeline\n${formatTimeline(timeline)}`;
      const order = eventNames(timeline);
      // bridge-1 let the call go at its deadline, before the callee picked up.
      expect(order.indexOf('bridge.released'), label).to.be.lessThan(order.indexOf('webhook.received'));
      expect(exitMs, label).to.be.lessThan(ringMs);
      expect(findEvent(timeline, 'bridge.released')?.fields.reason, label).to.equal('not_started_at_shutdown');
      expect(findEvent(timeline, 'realtime.fallback'), label).to.equal(undefined);
      expect(
        timeline.filter((e) => e.event === 'call.ended').map((e) => e.instance),
        label,
      ).to.deep.equal(['bridge-2']);
      // Greeted by bridge-2: the greeting bridge-1's warm session made (never heard) is not on the record.
      const greetings = realtime.sessions
        .flatMap((s) => s.responses)
        .filter((r) => r.text === 'Hi, this is the ringing desk calling.' && r.status === 'completed');
      expect(greetings.length, label).to.be.at.least(1);
      expect(summary.heardAudibleMs, 'the callee heard the agent').to.be.greaterThan(500);
      expect(summary.afterStreamVerbs, 'no TwiML fallback ran').to.deep.equal([]);
    } finally {
      await harness.rest.stop();
    }
  });

  it('with no other bridge up, the calls stay until DRAIN_TIMEOUT_MS and only then go to the fallback', async () => {
    const drainMs = 4000;
    const running = await startSystem({ DRAIN_TIMEOUT_MS: String(drainMs) });
    const [caller] = await placeCalls(running, 1, () => 'Hello from the only desk.', 15_000);
    await waitFor(() => greeted(caller!, 'Hello from the only desk.'), { timeoutMs: 15_000, message: 'greeted' });

    const termAt = Date.now();
    await running.byRole('realtime-bridge')[0]!.stop();
    const summary = await caller!.done;
    // The bridge has exited: the call ends at the gateway (call.ended), after the fallback.
    let timeline: TimelineEntry[] = [];
    await waitFor(
      async () => (timeline = await readTimeline(ctx.redis, summary.callSid)).some((e) => e.event === 'call.ended'),
      { timeoutMs: 15_000, message: 'call.ended' },
    );
    const fallback = findEvent(timeline, 'realtime.fallback');
    expect(fallback?.fields.reason).to.equal('BRIDGE_SHUTDOWN');
    expect(fallback!.ts - termAt, 'ms from SIGTERM to the fallback').to.be.at.least(drainMs - 500);
    expect(findEvent(timeline, 'call.resumed')).to.equal(undefined);
    // The bridge waited for the fallback clip to play out and finalized the call itself: the row has
    // its transcript and cost (a gateway finishing it for a vanished bridge has neither).
    const ended = timeline.filter((e) => e.event === 'call.ended');
    expect(
      ended.map((e) => [e.instance, e.fields.end_reason]),
      `timeline\n${formatTimeline(timeline)}`,
    ).to.deep.equal([['bridge-1', 'fallback:BRIDGE_SHUTDOWN']]);
    const row = await createCallRepository(ctx.knex).findByCallSid(summary.callSid);
    expect(row?.endReason).to.equal('fallback:BRIDGE_SHUTDOWN');
    expect((row?.transcript ?? []).map((t) => t.text)).to.include('Hello from the only desk.');
    reportFigure('bridge SIGTERM, no other bridge: SIGTERM to fallback', fallback!.ts - termAt);
  });
});

/** Statements waiting for a lock on the appointments table (the booking tool, held by the test). */
async function insertsWaitingForLockIn(knex: Knex): Promise<number> {
  const rows = await knex.raw<{ rows: Array<{ n: number }> }>(
    `select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock' and query ilike '%insert into "appointments"%'`,
  );
  return rows.rows[0]!.n;
}

/** Hold clips the caller was played after the greeting (a planned move plays none unless it runs late). */
function holdClipsAfterGreeting(timeline: TimelineEntry[]): number {
  const greetedAt = findEvent(timeline, 'greeting.first_audio')?.ts ?? 0;
  return timeline.filter((e) => e.event === 'clip.played' && e.fields.clip === 'hold' && e.ts > greetedAt).length;
}
