/**
 * The model cannot be reached, or drops mid-call: the caller still hears
 * audio within the budget, the timeline says why, and fatal errors are not
 * retried. Driven by the Realtime double's failure modes.
 */
import { expect } from 'chai';
import { createCallRepository } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import { waitFor, type CallSummary } from '@voice/testkit';
import type { Stack, StackOptions } from '../support/stack.js';
import { finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { scrapeMetric } from '../support/metrics.js';

/** "Within about a second" of the failure being known, with room for a loaded CI machine. */
const AUDIO_BUDGET_MS = 1500;
/**
 * A caller who stays on until the app ends the stream: the fallback tests check that Twilio
 * ran the TwiML after the stream, which happens only if the gateway closed it first. A caller
 * hanging up after a fixed few seconds raced the fallback clip on a loaded machine.
 */
const STAYS_ON = { script: [{ silenceMs: 60_000 }], hangupWhenScriptEnds: false };

describe('e2e: when the model fails, the caller still hears something', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  async function callThrough(options: StackOptions, callOptions: Parameters<Stack['call']>[1] = {}) {
    const stack = await ctx.start(options);
    lastBridgePort = stack.bridges[0]!.port;
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = stack.call(business.phoneNumber, {
      script: [{ silenceMs: 6000 }],
      hangupWhenScriptEnds: true,
      ...callOptions,
    });
    const summary = await call.done;
    return { summary, call, timeline: await finishedTimeline(ctx.redis, summary.callSid) };
  }

  const event = findEvent;
  /** The bridge of the last callThrough, for its metrics. */
  let lastBridgePort = 0;

  function expectFallback(summary: CallSummary, timeline: TimelineEntry[], reason: string): void {
    expect(event(timeline, 'realtime.fallback')?.fields.reason).to.equal(reason);
    expect(event(timeline, 'clip.played'), 'a clip was played').not.to.equal(undefined);
    expect(summary.heardAudibleMs, 'audible audio heard').to.be.greaterThan(500);
    expect(
      summary.spokenByTwilio.some((s) => s.phase === 'after-stream'),
      'TwiML fallback ran',
    ).to.equal(true);
    expect(event(timeline, 'call.ended')?.fields.end_reason).to.equal(`fallback:${reason}`);
    expect(event(timeline, 'call.silent_failure')).to.equal(undefined);
  }

  it('refused connections: retried, then the fallback clip within the budget', async () => {
    const { summary, timeline } = await callThrough({ realtime: { refuseConnections: true } }, STAYS_ON);
    const failed = event(timeline, 'openai.failed')!;
    expect(failed.fields.reason).to.equal('OPENAI_REFUSED');
    expect(failed.fields.attempts).to.equal('3');
    expect(
      event(timeline, 'call.metrics')?.fields.connect_attempts,
      'the scorecard counts the failed attempts',
    ).to.equal('3');
    expectFallback(summary, timeline, 'OPENAI_REFUSED');
    const sinceFailure = summary.firstAudioAtMs! - (failed.ts - event(timeline, 'stream.started')!.ts);
    reportFigure('refused: ms from openai.failed to fallback audio heard', sinceFailure);
    expect(sinceFailure).to.be.lessThan(AUDIO_BUDGET_MS);
  });

  it('a bad API key (401): tried once, not retried, fallback clip', async () => {
    const { summary, timeline } = await callThrough({ bridgeEnv: { OPENAI_API_KEY: 'sk-wrong' } }, STAYS_ON);
    expect(ctx.stack!.realtime.totalConnections).to.equal(1);
    const failed = event(timeline, 'openai.failed')!;
    expect(failed.fields.reason).to.equal('OPENAI_AUTH');
    expect(failed.fields.fatal).to.equal('true');
    expect(failed.fields.attempts).to.equal('1');
    expect(event(timeline, 'call.metrics')?.fields.connect_attempts).to.equal('1');
    expectFallback(summary, timeline, 'OPENAI_AUTH');
    reportFigure('401: ms from START to first audio heard', summary.firstAudioAtMs!);
    expect(summary.firstAudioAtMs).to.be.lessThan(AUDIO_BUDGET_MS);
  });

  it('a hanging handshake: the hold clip plays within about a second, then the fallback', async () => {
    const { summary, timeline } = await callThrough(
      {
        realtime: { hangUpgrade: true },
        bridgeEnv: { OPENAI_CONNECT_TIMEOUT_MS: '1500', OPENAI_CONNECT_ATTEMPTS: '2' },
      },
      STAYS_ON,
    );
    expect(event(timeline, 'openai.failed')?.fields.reason).to.equal('OPENAI_CONNECT_TIMEOUT');
    expect(timeline.filter((e) => e.event === 'openai.connecting')).to.have.length(2);
    expect(event(timeline, 'call.metrics')?.fields.connect_attempts).to.equal('2');
    expect(timeline.find((e) => e.event === 'clip.played')?.fields.clip).to.equal('hold');
    reportFigure('hang: ms from START to hold audio heard', summary.firstAudioAtMs!);
    expect(summary.firstAudioAtMs).to.be.lessThan(AUDIO_BUDGET_MS);
    expectFallback(summary, timeline, 'OPENAI_CONNECT_TIMEOUT');
  });

  it('a hanging handshake on a cold call: the fallback at OPENAI_CONNECT_DEADLINE_MS from START, not after every attempt', async () => {
    const deadlineMs = 4000;
    // 3 attempts x 8 s (the defaults) would keep the caller 24 s.
    const { summary, timeline } = await callThrough(
      {
        realtime: { hangUpgrade: true },
        env: { WARM_SESSIONS_ENABLED: 'false' },
        bridgeEnv: { OPENAI_CONNECT_DEADLINE_MS: String(deadlineMs) },
      },
      { script: [{ silenceMs: 12_000 }] },
    );
    expect(event(timeline, 'bridge.claimed')?.fields.reason).to.equal('started');
    expect(event(timeline, 'openai.failed')?.fields).to.include({ reason: 'OPENAI_CONNECT_DEADLINE', attempts: '1' });
    expectFallback(summary, timeline, 'OPENAI_CONNECT_DEADLINE');
    const startedAt = event(timeline, 'stream.started')!.ts;
    const fallbackAt = timeline.find((e) => e.event === 'clip.played' && e.fields.clip === 'fallback')!.ts;
    reportFigure('hang (cold): ms from START to the fallback clip sent, deadline 4000', fallbackAt - startedAt);
    expect(fallbackAt - startedAt).to.be.within(deadlineMs - 200, deadlineMs + AUDIO_BUDGET_MS);
  });

  it('the model drops mid-call and its reconnect hangs: the fallback at OPENAI_CONNECT_DEADLINE_MS from the drop', async () => {
    const deadlineMs = 2000;
    const stack = await ctx.start({
      realtime: { closeAfterMs: 2500 },
      bridgeEnv: { OPENAI_CONNECT_DEADLINE_MS: String(deadlineMs), RECONNECT_TIMEOUT_MS: '8000' },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, Test Dental.' });
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 15_000 }], hangupWhenScriptEnds: true });
    await waitFor(() => stack.realtime.sessions.length >= 1, { message: 'first session' });
    stack.realtime.setBehaviour({ hangUpgrade: true });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    expectFallback(summary, timeline, 'OPENAI_CONNECT_DEADLINE');
    expect(event(timeline, 'openai.failed')?.fields.reason).to.equal('OPENAI_CONNECT_DEADLINE');
    const droppedAt = event(timeline, 'openai.closed')!.ts;
    const fallbackAt = timeline.find((e) => e.event === 'clip.played' && e.fields.clip === 'fallback')!.ts;
    reportFigure('reconnect hangs: ms from the drop to the fallback clip sent, deadline 2000', fallbackAt - droppedAt);
    expect(fallbackAt - droppedAt).to.be.within(deadlineMs - 200, deadlineMs + AUDIO_BUDGET_MS);
    // The caller was held meanwhile: the hold clip after the drop.
    expect(timeline.some((e) => e.event === 'clip.played' && e.fields.clip === 'hold' && e.ts >= droppedAt)).to.equal(
      true,
    );
  });

  it('the model drops mid-call and cannot be resumed: fallback clip', async () => {
    const { summary, timeline } = await callThrough(
      { realtime: { closeAfterMs: 2500 }, bridgeEnv: { RECONNECT_ATTEMPTS: '0' } },
      STAYS_ON,
    );
    expect(event(timeline, 'openai.closed')).not.to.equal(undefined);
    expectFallback(summary, timeline, 'OPENAI_CLOSED');
    const closedAt = event(timeline, 'openai.closed')!.ts;
    const clipAt = timeline.find((e) => e.event === 'clip.played' && e.ts >= closedAt)!.ts;
    reportFigure('drop: ms from openai.closed to fallback clip sent', clipAt - closedAt);
    expect(clipAt - closedAt).to.be.lessThan(AUDIO_BUDGET_MS);
  });

  it('the model drops mid-call and the conversation resumes on a new session', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start({ realtime: { closeAfterMs: 3000, replies: ['Sorry about that. Where were we?'] } });
    const business = await createTestBusiness(knex, { greeting: 'Hi, Test Dental.' });
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 9000 }], hangupWhenScriptEnds: true });
    const running = stack;
    await waitFor(() => running.realtime.sessions.length >= 1, { message: 'first session' });
    running.realtime.setBehaviour({ closeAfterMs: undefined });
    const summary = await call.done;
    await waitFor(async () => (await readTimeline(redis, summary.callSid)).some((e) => e.event === 'call.metrics'));
    const timeline = await readTimeline(redis, summary.callSid);
    expect(event(timeline, 'openai.reconnected')).not.to.equal(undefined);
    expect(event(timeline, 'realtime.fallback')).to.equal(undefined);
    const resumed = running.realtime.sessions[1]!;
    const history = resumed.receivedEvents.filter((e) => e.type === 'conversation.item.create');
    expect(history.length, 'conversation replayed').to.be.greaterThan(0);
    expect(JSON.stringify(history[0]!.event)).to.include('Hi, Test Dental.');
    expect(
      resumed.responses.some((r) => r.status === 'completed'),
      'the agent spoke again',
    ).to.equal(true);
    expect(event(timeline, 'call.ended')?.fields.end_reason).to.equal('twilio_stop');
  });

  it('a model that refuses the greeting: asked once more, then the fallback instead of endless hold music', async () => {
    const { summary, timeline } = await callThrough({ realtime: { errorOnResponseCreate: true } }, STAYS_ON);
    const failures = timeline.filter((e) => e.event === 'greeting.failed');
    expect(failures.map((e) => [e.fields.attempt, e.fields.status, e.fields.code, e.fields.retrying])).to.deep.equal([
      ['1', 'refused', 'server_error', 'true'],
      ['2', 'refused', 'server_error', 'false'],
    ]);
    expectFallback(summary, timeline, 'OPENAI_GREETING_FAILED');
    const row = await createCallRepository(ctx.knex).findByCallSid(summary.callSid);
    expect(row?.silentFailure).to.equal(false);
    expect(row?.endReason).to.equal('fallback:OPENAI_GREETING_FAILED');
    expect(
      await scrapeMetric(lastBridgePort, 'realtime_fallbacks_total', { reason: 'OPENAI_GREETING_FAILED' }),
    ).to.equal(1);
  });

  it('a greeting the model fails once is asked for again, and the caller hears it', async () => {
    const { summary, timeline } = await callThrough({ realtime: { failResponses: 1 } });
    const failures = timeline.filter((e) => e.event === 'greeting.failed');
    expect(failures.map((e) => [e.fields.attempt, e.fields.status, e.fields.code, e.fields.retrying])).to.deep.equal([
      ['1', 'failed', 'server_error', 'true'],
    ]);
    const session = ctx.stack!.realtime.sessions[0]!;
    expect(session.responses.slice(0, 2).map((r) => [r.status, r.text])).to.deep.equal([
      ['failed', ''],
      ['completed', 'Hi, Test Dental.'],
    ]);
    expect(event(timeline, 'greeting.first_audio'), 'the greeting reached the caller').not.to.equal(undefined);
    expect(event(timeline, 'realtime.fallback')).to.equal(undefined);
    expect(event(timeline, 'call.silent_failure')).to.equal(undefined);
    expect(event(timeline, 'call.ended')?.fields.end_reason).to.equal('twilio_stop');
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
  });

  it('a caller who hears the hold clip and hangs up while the session is still being set up: abandoned, not silent', async () => {
    const { knex, redis } = ctx;
    // The model never answers the upgrade within the call: setup is still at its first connect when the caller gives up.
    const stack = await ctx.start({
      realtime: { hangUpgrade: true },
      bridgeEnv: { OPENAI_CONNECT_TIMEOUT_MS: '60000', OPENAI_CONNECT_ATTEMPTS: '1' },
    });
    const business = await createTestBusiness(knex);
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 120_000 }] });
    await waitFor(() => call.heardAudibleMs() > 500, { timeoutMs: 20_000, message: 'the caller hears the hold clip' });
    await call.hangup();
    const timeline = await finishedTimeline(redis, call.callSid);
    expect(event(timeline, 'clip.played')?.fields.clip).to.equal('hold');
    expect(event(timeline, 'call.silent_failure'), 'not a silent failure').to.equal(undefined);
    expect(event(timeline, 'call.ended')?.fields.end_reason).to.equal('caller_abandoned');
    expect(event(timeline, 'call.abandoned')?.fields).to.include({ stage: 'connecting', hangup: 'twilio_stop' });
    const row = await createCallRepository(knex).findByCallSid(call.callSid);
    expect(row?.silentFailure).to.equal(false);
    expect(row?.endReason).to.equal('caller_abandoned');
    const port = stack.bridges[0]!.port;
    expect(await scrapeMetric(port, 'bridge_calls_ended_total', { end_reason: 'caller_abandoned' })).to.equal(1);
    expect(await scrapeMetric(port, 'call_silent_failures_total')).to.equal(0);
  });

  it('flags a response that started but produced no audio', async () => {
    const { timeline } = await callThrough({
      realtime: { firstAudioDelayMs: 8000 },
      bridgeEnv: { SILENT_RESPONSE_MS: '1500' },
    });
    expect(timeline.find((e) => e.event === 'call.silent_failure')?.fields.reason).to.equal('response_without_audio');
    expect(
      await scrapeMetric(lastBridgePort, 'call_silent_failures_total', { reason: 'response_without_audio' }),
    ).to.equal(1);
  });
});
