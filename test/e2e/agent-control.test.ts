/**
 * The agent controls the call: end_call hangs up only once the caller heard
 * the goodbye in full (its last mark came back), transfer_call redirects the
 * live call to <Dial> after its line played (or is refused politely when the
 * business has no human line), and key presses reach the model as
 * conversation input unless the business turned DTMF off. The Twilio REST API
 * is the local double, driven by the real twilio SDK; its updates act on the
 * caller double as Twilio would (hang up, or end the stream and run the TwiML).
 */
import { expect } from 'chai';
import { FRAME_MS } from '@voice/protocols';
import { readConversation, type TimelineEntry } from '@voice/redis';
import {
  LONG_REPLY_TEXT,
  TwilioRestDouble,
  waitFor,
  type RecordedResponse,
  type RecordedSession,
  type TwilioCallerDouble,
} from '@voice/testkit';
import type { StackOptions } from '../support/stack.js';
import { createTestBusiness } from '../support/business.js';
import { finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../support/env.js';
import { reportFigure } from '../support/figures.js';
import { timelineEvents } from '../support/redis.js';

const HUMAN_LINE = '+15550104242';
const GOODBYE = 'Thank you for calling Test Dental. Goodbye and have a lovely day.';
const TRANSFER_LINE = 'Sure, transferring you to a colleague now.';
/** Caller: the greeting plays, one turn ("that's all"), then silence long enough that only the app can end the call in time. */
const ONE_TURN = [{ silenceMs: 3000 }, { say: 'That is all, thank you.' }, { silenceMs: 25_000 }];

describe('e2e: the agent controls the call (end_call, transfer_call, DTMF)', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();
  let rest: TwilioRestDouble;
  const calls = new Map<string, TwilioCallerDouble>();

  beforeEach(async () => {
    rest = new TwilioRestDouble({
      accountSid: TEST_ACCOUNT_SID,
      authToken: TEST_AUTH_TOKEN,
      onCallUpdate: (callSid, params) => calls.get(callSid)?.applyApiUpdate(params),
    });
    await rest.start();
  });
  afterEach(async () => {
    await rest.stop();
    calls.clear();
  });

  async function start(options: StackOptions) {
    return ctx.start({
      ...options,
      bridgeEnv: {
        ...options.bridgeEnv,
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        TWILIO_API_BASE_URL: rest.baseURL,
      },
    });
  }

  function place(
    stack: Awaited<ReturnType<typeof start>>,
    to: string,
    options: Parameters<typeof stack.call>[1] = {},
  ): TwilioCallerDouble {
    const call = stack.call(to, { script: ONE_TURN, hangupWhenScriptEnds: true, ...options });
    calls.set(call.callSid, call);
    return call;
  }

  const fields = (t: TimelineEntry[], event: string) => findEvent(t, event)?.fields ?? {};

  /** The last mark the bridge sent after a response's audio, as the caller double saw it. */
  function lastMarkOf(call: TwilioCallerDouble, response: RecordedResponse) {
    const marks = call.marks.filter((m) => m.name.startsWith(`${response.itemId}|`));
    expect(marks.length, `marks of ${response.text}`).to.be.greaterThan(1);
    return marks[marks.length - 1]!;
  }

  /** Ms of a response's audio the caller heard: played audio from its start-of-item mark on. */
  function heardOf(call: TwilioCallerDouble, response: RecordedResponse, untilMs = Infinity): number {
    const startMs = call.marks.find((m) => m.name === `${response.itemId}|0`)?.echoedAtMs;
    expect(startMs, 'start-of-item mark echoed').to.be.a('number');
    return call
      .heardSegments()
      .filter((s) => s.startMs >= startMs! - FRAME_MS && s.startMs < untilMs)
      .reduce((ms, s) => ms + s.bytes.length / 8, 0);
  }

  /** ms since START at which the stream socket closed. */
  function streamClosedAtMs(call: TwilioCallerDouble): number {
    const session = call.session!;
    return session.closedAt! - session.origin!;
  }

  async function waitForSession(stack: Awaited<ReturnType<typeof start>>): Promise<RecordedSession> {
    await waitFor(() => stack.realtime.sessions.length > 0, { message: 'a model session' });
    return stack.realtime.sessions[0]!;
  }

  function responseWithText(session: RecordedSession, text: string): RecordedResponse {
    const response = session.responses.find((r) => r.text === text);
    expect(response, `a response "${text}"`).not.to.equal(undefined);
    return response!;
  }

  it('end_call: the line is hung up only after the goodbye was heard in full', async () => {
    const stack = await start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'end_call', arguments: { reason: 'caller is done' } }],
        replyAfterToolText: GOODBYE,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber);
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(summary.endedBy).to.equal('api-hangup');
    expect(rest.requests.map((r) => r.params.Status)).to.deep.equal(['completed']);
    const session = stack.realtime.sessions[0]!;
    expect(JSON.parse(session.functionCallOutputs[0]!.output)).to.include({ ending: true });
    const goodbye = responseWithText(session, GOODBYE);
    // Audio reaches the bridge about 4x faster than it plays: hanging up at response.done would cut it short.
    const last = lastMarkOf(call, goodbye);
    expect(last.played, "the goodbye's last mark was reached by playback").to.equal(true);
    expect(heardOf(call, goodbye)).to.be.closeTo(goodbye.audioMsSent, FRAME_MS);
    const closedMs = streamClosedAtMs(call);
    expect(closedMs).to.be.at.least(last.echoedAtMs!);
    reportFigure('end_call: last goodbye audio played -> stream closed', closedMs - last.echoedAtMs!);
    const hangupAtMs = summary.apiUpdates[0]!.callMs - summary.startSentCallMs!;
    reportFigure('end_call: of which, mark echoed -> REST hangup received', hangupAtMs - last.echoedAtMs!);
    reportFigure('end_call: the REST request as the bridge timed it', Number(fields(timeline, 'agent.hangup').rest_ms));

    expect(fields(timeline, 'tool.called')).to.include({ name: 'end_call', ok: 'true' });
    expect(fields(timeline, 'agent.hangup')).to.include({ outcome: 'hung_up', via: 'rest', reason: 'caller is done' });
    expect(fields(timeline, 'call.ended').end_reason).to.equal('agent_hangup');
    expect(summary.spokenByTwilio, 'no fallback speech after the goodbye').to.deep.equal([]);
  });

  it('end_call whose REST hangup Twilio refuses: the stream closes after the goodbye, and no fallback message follows it', async () => {
    const stack = await ctx.start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'end_call', arguments: { reason: 'caller is done' } }],
        replyAfterToolText: GOODBYE,
      },
      bridgeEnv: {
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: 'not-the-rest-token',
        TWILIO_API_BASE_URL: rest.baseURL,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber);
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(rest.requests.map((r) => r.authorized)).to.deep.equal([false]);
    const goodbye = responseWithText(stack.realtime.sessions[0]!, GOODBYE);
    expect(lastMarkOf(call, goodbye).played, 'the goodbye was heard in full').to.equal(true);
    expect(fields(timeline, 'agent.hangup')).to.include({ outcome: 'hung_up', via: 'stream_close' });
    expect(fields(timeline, 'stream.action')).to.include({ decision: 'hangup', reason: 'agent_hangup' });
    expect(summary.spokenByTwilio, 'no "assistant not available" after a goodbye').to.deep.equal([]);
    expect(summary.endedBy).to.not.equal('caller');
    expect(fields(timeline, 'call.ended').end_reason).to.equal('agent_hangup');
  });

  it('end_call in the same response as the goodbye: no second goodbye, hung up once it was heard', async () => {
    const stack = await start({
      realtime: { functionCalls: [{ onTurn: 1, name: 'end_call', arguments: {}, sayFirst: GOODBYE }] },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber);
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(summary.endedBy).to.equal('api-hangup');
    const session = stack.realtime.sessions[0]!;
    const goodbye = responseWithText(session, GOODBYE);
    expect(goodbye.functionCall?.name).to.equal('end_call');
    expect(session.responses.indexOf(goodbye), 'no response was asked for after the goodbye').to.equal(
      session.responses.length - 1,
    );
    expect(lastMarkOf(call, goodbye).played).to.equal(true);
    expect(heardOf(call, goodbye)).to.be.closeTo(goodbye.audioMsSent, FRAME_MS);
    expect(fields(timeline, 'agent.hangup')).to.include({ outcome: 'hung_up' });
  });

  it('end_call: a caller who talks over the goodbye keeps the line (the hangup is cancelled)', async () => {
    const stack = await start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'end_call', arguments: {} }],
        replyAfterToolText: LONG_REPLY_TEXT,
        replies: ['Of course, go ahead.'],
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber, {
      script: [
        { silenceMs: 3000 },
        { say: 'That is all, thank you.' },
        { silenceMs: 3000 },
        { say: 'Wait, one more thing.' },
        { silenceMs: 4000 },
      ],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(summary.endedBy, 'the caller, not the agent, ended this call').to.equal('caller');
    expect(rest.requests).to.deep.equal([]);
    expect(summary.clears.length, 'the goodbye was cut by the barge-in').to.be.at.least(1);
    expect(fields(timeline, 'agent.hangup')).to.include({ outcome: 'cancelled', reason: 'caller_spoke' });
    expect(fields(timeline, 'call.ended').end_reason).not.to.equal('agent_hangup');
  });

  it('end_call: a model session that drops before the goodbye cancels the hangup; the call resumes', async () => {
    // Greeting, then the end_call response: the session closes (1011) right after it, before any goodbye.
    const stack = await start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'end_call', arguments: {} }],
        replyAfterToolText: GOODBYE,
        closeAfterResponses: 2,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 3000 }, { say: 'That is all, thank you.' }, { silenceMs: 6000 }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(stack.realtime.sessions.length, 'a second session resumed the call').to.equal(2);
    expect(summary.endedBy).to.equal('caller');
    expect(rest.requests).to.deep.equal([]);
    expect(fields(timeline, 'agent.hangup')).to.include({ outcome: 'cancelled', reason: 'model_reconnected' });
    expect(timeline.map((e) => e.event)).to.include('openai.reconnected');
  });

  it("transfer_call: the line plays, then the live call is redirected to <Dial> the business's human number", async () => {
    const stack = await start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'transfer_call', arguments: { reason: 'wants a person' } }],
        replyAfterToolText: TRANSFER_LINE,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.', transferNumber: HUMAN_LINE });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 3000 }, { say: 'Can I talk to a person?' }, { silenceMs: 25_000 }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(rest.requests).to.have.length(1);
    expect(rest.requests[0]!.callSid).to.equal(summary.callSid);
    expect(rest.requests[0]!.params.Twiml).to.equal(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${HUMAN_LINE}</Dial></Response>`,
    );
    expect(summary.endedBy).to.equal('dialed');
    expect(summary.dialed).to.deep.equal([HUMAN_LINE]);
    const line = responseWithText(stack.realtime.sessions[0]!, TRANSFER_LINE);
    expect(lastMarkOf(call, line).played, 'the transfer line was heard before the redirect').to.equal(true);
    expect(heardOf(call, line)).to.be.closeTo(line.audioMsSent, FRAME_MS);
    expect(fields(timeline, 'agent.transfer')).to.include({
      outcome: 'redirected',
      to: HUMAN_LINE,
      reason: 'wants a person',
    });
    expect(fields(timeline, 'call.ended').end_reason).to.equal('agent_transfer');
  });

  it('transfer_call that Twilio refuses: the model is told, and the call goes on', async () => {
    const stack = await ctx.start({
      realtime: {
        functionCalls: [{ onTurn: 1, name: 'transfer_call', arguments: {} }],
        replyAfterToolText: TRANSFER_LINE,
        replies: ['I am sorry, let me take a message.'],
      },
      bridgeEnv: {
        TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: 'not-the-rest-token',
        TWILIO_API_BASE_URL: rest.baseURL,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.', transferNumber: HUMAN_LINE });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 3000 }, { say: 'Can I talk to a person?' }, { silenceMs: 9000 }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(rest.requests.map((r) => r.authorized)).to.deep.equal([false]);
    expect(summary.endedBy).to.equal('caller');
    expect(summary.dialed).to.deep.equal([]);
    expect(fields(timeline, 'agent.transfer')).to.include({ outcome: 'failed', to: HUMAN_LINE });
    const session = stack.realtime.sessions[0]!;
    expect(session.textItems.map((i) => i.role)).to.deep.equal(['system']);
    expect(session.textItems[0]!.text).to.match(/transfer .* failed/i);
    const apology = responseWithText(session, 'I am sorry, let me take a message.');
    expect(apology.createdAtMs, 'the model spoke after it was told').to.be.greaterThan(session.textItems[0]!.atMs);
  });

  it('transfer_call without a human number: refused politely, the call goes on', async () => {
    const apology = 'I am sorry, nobody is free right now. Can I take a message?';
    const stack = await start({
      realtime: { functionCalls: [{ onTurn: 1, name: 'transfer_call', arguments: {} }], replyAfterToolText: apology },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.', transferNumber: null });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 3000 }, { say: 'Can I talk to a person?' }, { silenceMs: 6000 }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(rest.requests).to.deep.equal([]);
    expect(summary.endedBy).to.equal('caller');
    const session = stack.realtime.sessions[0]!;
    expect(JSON.parse(session.functionCallOutputs[0]!.output)).to.include({ transferred: false });
    const answer = responseWithText(session, apology);
    expect(heardOf(call, answer), 'the apology was heard').to.be.greaterThan(answer.audioMsSent / 2);
    expect(fields(timeline, 'agent.transfer')).to.include({ outcome: 'refused', reason: 'no_transfer_number' });
  });

  it('DTMF: a key press reaches the model as conversation input and is on the timeline', async () => {
    const reply = 'You pressed three: our opening hours.';
    const stack = await start({ realtime: { replyAfterUserText: reply } });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 7000 }],
      dtmf: [{ atMs: 3000, digit: '3' }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    const session = stack.realtime.sessions[0]!;
    expect(session.textItems.map((i) => ({ role: i.role, text: i.text }))).to.deep.equal([
      { role: 'user', text: 'The caller pressed 3 on the keypad.' },
    ]);
    const answer = responseWithText(session, reply);
    expect(answer.trigger).to.equal('client');
    expect(heardOf(call, answer), 'the answer to the key press was heard').to.be.greaterThan(answer.audioMsSent / 2);
    expect(fields(timeline, 'dtmf.received')).to.include({ digit: '3', outcome: 'sent_to_model' });
    // The press is the caller's turn on the conversation record: a resumed session and the transcript see it.
    const { entries } = await readConversation(ctx.redis, summary.callSid);
    expect(entries.filter((e) => e.kind === 'caller').map((e) => e.text)).to.include(
      'The caller pressed 3 on the keypad.',
    );
  });

  it('DTMF: keys typed in a row reach the model once, as one entry; # ends it at once, a pause ends it too', async () => {
    const reply = 'Thank you, I have your number.';
    const stack = await start({ realtime: { replyAfterUserText: reply } });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 9000 }],
      dtmf: [
        { atMs: 3000, digit: '1' },
        { atMs: 3150, digit: '2' },
        { atMs: 3300, digit: '3' },
        { atMs: 3450, digit: '4' },
        { atMs: 3600, digit: '#' },
        { atMs: 5500, digit: '9' },
      ],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    const session = stack.realtime.sessions[0]!;
    expect(session.textItems.map((i) => i.text)).to.deep.equal([
      'The caller entered 1234 on the keypad.',
      'The caller pressed 9 on the keypad.',
    ]);
    expect(
      session.responses.filter((r) => r.trigger === 'client' && r.text === reply),
      'the agent answered each entry once, not each key',
    ).to.have.length(2);
    const entries = timeline.filter((e) => e.event === 'dtmf.received').map((e) => e.fields);
    expect(entries).to.have.length(2);
    expect(entries[0]).to.include({ digit: '1234', outcome: 'sent_to_model', ended_by: 'pound' });
    expect(entries[1]).to.include({ digit: '9', outcome: 'sent_to_model', ended_by: 'pause' });
    // Every key is still on the timeline as the gateway read it.
    expect(timeline.filter((e) => e.event === 'caller.dtmf').map((e) => e.fields.digit)).to.deep.equal([
      '1',
      '2',
      '3',
      '4',
      '#',
      '9',
    ]);
  });

  it('DTMF while the agent speaks: the agent is not cut off, and answers the press after it finished', async () => {
    const reply = 'You pressed five.';
    const stack = await start({ realtime: { replyAfterUserText: reply } });
    const business = await createTestBusiness(ctx.knex, { greeting: LONG_REPLY_TEXT });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 20_000 }],
      dtmf: [{ atMs: 500, digit: '5' }],
    });
    const session = await waitForSession(stack);
    await waitFor(() => session.responses.some((r) => r.text === reply && r.status === 'completed'), {
      timeoutMs: 20_000,
      message: 'the answer to the press',
    });
    const summary = await call.hangup();
    await finishedTimeline(ctx.redis, summary.callSid);

    const greeting = responseWithText(session, LONG_REPLY_TEXT);
    const answer = responseWithText(session, reply);
    expect(greeting.status, 'the greeting was not interrupted by the key press').to.equal('completed');
    expect(summary.clears).to.deep.equal([]);
    expect(answer.createdAtMs).to.be.at.least(greeting.doneAtMs!);
    expect(
      session.textItems[0]!.atMs,
      'the press reached the model while the greeting was being generated',
    ).to.be.lessThan(greeting.doneAtMs!);
  });

  it('DTMF and a tool together: "press 0 for a person" ends with the call redirected to the human line', async () => {
    const stack = await start({
      realtime: {
        functionCalls: [
          { onTurn: 0, onUserText: 'pressed 0', name: 'transfer_call', arguments: { reason: 'pressed 0' } },
        ],
        replyAfterToolText: TRANSFER_LINE,
      },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.', transferNumber: HUMAN_LINE });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 25_000 }],
      dtmf: [{ atMs: 2500, digit: '0' }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(summary.dialed).to.deep.equal([HUMAN_LINE]);
    expect(fields(timeline, 'dtmf.received')).to.include({ digit: '0', outcome: 'sent_to_model' });
    expect(fields(timeline, 'agent.transfer')).to.include({ outcome: 'redirected', to: HUMAN_LINE });
  });

  it('DTMF while the model session reconnects: the entry waits for the new session, which answers it', async () => {
    const reply = 'Thank you, I have 42.';
    const stack = await start({
      realtime: { closeAfterMs: 3000, replyAfterUserText: reply },
      bridgeEnv: { RECONNECT_TIMEOUT_MS: '20000' },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = place(stack, business.phoneNumber, { script: [{ silenceMs: 30_000 }] });
    await waitForSession(stack);
    // The first session drops at 3 s; the next one is not let in until the whole entry was typed.
    stack.realtime.setBehaviour({ closeAfterMs: undefined, holdUpgrades: true });
    await waitFor(async () => (await timelineEvents(ctx.redis, call.callSid)).includes('openai.reconnecting'), {
      timeoutMs: 10_000,
      message: 'the bridge reconnecting to the model',
    });
    for (const digit of ['4', '2', '#']) expect(call.press(digit), `pressed ${digit}`).to.equal(true);
    await waitFor(
      async () => (await timelineEvents(ctx.redis, call.callSid)).filter((e) => e === 'caller.dtmf').length === 3,
      {
        message: 'the gateway read the three keys',
      },
    );
    // The keys cross the media link in milliseconds; a second more is room on a loaded machine.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stack.realtime.setBehaviour({ holdUpgrades: false });

    await waitFor(() => stack.realtime.sessions.length >= 2, { message: 'the resumed session' });
    const resumed = stack.realtime.sessions[1]!;
    await waitFor(() => resumed.responses.some((r) => r.text === reply && r.status === 'completed'), {
      timeoutMs: 15_000,
      message: 'the answer to the entry',
    });
    const answer = responseWithText(resumed, reply);
    await waitFor(() => call.marks.some((m) => m.name === `${answer.itemId}|0` && m.echoedAtMs !== undefined), {
      message: 'the answer playing to the caller',
    });
    const summary = await call.hangup();
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(resumed.textItems.map((i) => i.text)).to.include('The caller entered 42 on the keypad.');
    const entry = fields(timeline, 'dtmf.received');
    expect(entry).to.include({ digit: '42', outcome: 'sent_to_model', ended_by: 'pound' });
    expect(Number(entry.waited_ms), 'it waited for the session').to.be.at.least(900);
    expect(heardOf(call, answer), 'the answer was heard').to.be.greaterThan(0);
    expect(timeline.map((e) => e.event)).not.to.include('realtime.fallback');
  });

  it('DTMF off for the business: the press is on the timeline as ignored and never reaches the model', async () => {
    const stack = await start({ realtime: { replyAfterUserText: 'You pressed a key.' } });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.', dtmfEnabled: false });
    const call = place(stack, business.phoneNumber, {
      script: [{ silenceMs: 6000 }],
      dtmf: [{ atMs: 3000, digit: '3' }],
    });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    const session = stack.realtime.sessions[0]!;
    expect(session.textItems).to.deep.equal([]);
    expect(session.responses.map((r) => r.text)).not.to.include('You pressed a key.');
    expect(fields(timeline, 'dtmf.received')).to.include({ digit: '3', outcome: 'ignored', reason: 'dtmf_disabled' });
    expect(fields(timeline, 'session.configured').tool_names).to.equal('end_call,transfer_call');
  });
});
