/**
 * The conversation record and what is written from it: both sides' turns and
 * the tool call in Redis as they complete, the transcript in the calls row
 * after the call, token usage summed over every response.done and priced at
 * the configured per-token prices, on the row and on call.metrics.
 */
import { expect } from 'chai';
import { CALL_ROW_RETRY_DELAYS_MS, createCallRepository } from '@voice/db';
import { readConversation } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { BRIDGE_DEFAULTS } from '../../apps/realtime-bridge/src/config.js';
import { finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { reportFigure } from '../support/figures.js';
import { scrapeMetric } from '../support/metrics.js';
import { refuseCallRow } from '../support/refuse-call-row.js';

const FIRST_WORDS = 'I would like a cleaning for Ada Lovelace.';
const SECOND_WORDS = 'Thank you, that is all.';
const REPLY_AFTER_TOOL = 'You are booked for next week.';
const LAST_REPLY = 'Goodbye and thanks for calling.';

interface DoubleUsage {
  input_tokens: number;
  output_tokens: number;
  input_token_details: {
    text_tokens: number;
    audio_tokens: number;
    cached_tokens: number;
    cached_tokens_details: { text_tokens: number; audio_tokens: number };
  };
  output_token_details: { text_tokens: number; audio_tokens: number };
}

describe('e2e: transcripts, usage and cost', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  it('records both sides and the tool call, and writes the transcript, usage and cost to the calls row', async () => {
    const { knex, redis } = ctx;
    const startsAt = new Date(Date.now() + 8 * 24 * 3600 * 1000);
    startsAt.setUTCMinutes(0, 0, 0);
    const stack = await ctx.start({
      realtime: {
        inputTranscripts: [FIRST_WORDS, SECOND_WORDS],
        functionCalls: [
          {
            onTurn: 1,
            name: 'book_appointment',
            arguments: { customer_name: 'Ada Lovelace', starts_at: startsAt.toISOString() },
          },
        ],
        replyAfterToolText: REPLY_AFTER_TOOL,
        replies: [LAST_REPLY],
      },
    });
    const business = await createTestBusiness(knex, { appointmentBookingEnabled: true, greeting: 'Hi, Test Dental.' });
    const summary = await stack.call(business.phoneNumber, {
      script: [
        { silenceMs: 3000 },
        { say: 'I would like a cleaning.' },
        { silenceMs: 6000 },
        { say: 'Thank you.' },
        { silenceMs: 5000 },
      ],
      hangupWhenScriptEnds: true,
    }).done;
    const timeline = await finishedTimeline(redis, summary.callSid);

    // Input transcription was asked for (the caller's turns come from it).
    const session = stack.realtime.sessions.find((s) => s.responses.length > 0)!;
    expect(session.config.audio.input.transcription).to.deep.include({
      model: BRIDGE_DEFAULTS.inputTranscriptionModel,
    });

    // The record in Redis: settings, then the turns in order, the tool call and its result, usage per response.
    const { entries, invalid } = await readConversation(redis, summary.callSid);
    expect(invalid).to.deep.equal([]);
    const items = entries.filter((e) => e.kind !== 'usage').map((e) => e.kind);
    expect(items).to.deep.equal(['session', 'agent', 'caller', 'tool_call', 'tool_result', 'agent', 'caller', 'agent']);
    const call = entries.find((e) => e.kind === 'tool_call');
    expect(call?.kind === 'tool_call' && call.name).to.equal('book_appointment');
    const result = entries.find((e) => e.kind === 'tool_result');
    expect(result?.kind === 'tool_result' && JSON.parse(result.output)).to.include({ booked: true });

    // The transcript in the row: who spoke, what, when (in order).
    const row = (await createCallRepository(knex).findByCallSid(summary.callSid))!;
    const transcript = row.transcript!;
    expect(transcript.map((t) => t.role)).to.deep.equal([
      'agent',
      'caller',
      'tool',
      'tool',
      'agent',
      'caller',
      'agent',
    ]);
    expect(transcript.filter((t) => t.role !== 'tool').map((t) => t.text)).to.deep.equal([
      'Hi, Test Dental.',
      FIRST_WORDS,
      REPLY_AFTER_TOOL,
      SECOND_WORDS,
      LAST_REPLY,
    ]);
    expect(transcript[2]!.text).to.match(/^book_appointment\(.*Ada Lovelace/);
    const times = transcript.map((t) => Date.parse(t.at));
    expect(
      times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= times[i - 1]!)),
      'times in order',
    ).to.equal(true);

    // Usage: the sum of every response.done the model sent, priced at the default (list) prices.
    const usages = session.sentEvents
      .filter((e) => e.type === 'response.done')
      .map((e) => (e.event.response as { usage: DoubleUsage }).usage);
    expect(usages.length).to.equal(4); // greeting, function call, reply after the tool, last reply
    const sum = (f: (u: DoubleUsage) => number) => usages.reduce((n, u) => n + f(u), 0);
    expect(row.usage).to.deep.include({
      responses: 4,
      input_tokens: sum((u) => u.input_tokens),
      output_tokens: sum((u) => u.output_tokens),
      input_audio_tokens: sum((u) => u.input_token_details.audio_tokens),
      input_cached_tokens: sum((u) => u.input_token_details.cached_tokens),
      output_audio_tokens: sum((u) => u.output_token_details.audio_tokens),
    });
    expect(row.usage.input_cached_tokens, 'later turns read cached context').to.be.greaterThan(0);
    const p = BRIDGE_DEFAULTS.pricesPer1M;
    const cachedText = sum((u) => u.input_token_details.cached_tokens_details.text_tokens);
    const cachedAudio = sum((u) => u.input_token_details.cached_tokens_details.audio_tokens);
    const expected =
      ((sum((u) => u.input_token_details.text_tokens) - cachedText) * p.textInput +
        cachedText * p.textInputCached +
        (sum((u) => u.input_token_details.audio_tokens) - cachedAudio) * p.audioInput +
        cachedAudio * p.audioInputCached +
        sum((u) => u.output_token_details.text_tokens) * p.textOutput +
        sum((u) => u.output_token_details.audio_tokens) * p.audioOutput) /
      1_000_000;
    expect(row.costUsd).to.be.closeTo(expected, 0.000001);
    reportFigure('cost of a 3-turn call in USD (x 1e6)', row.costUsd! * 1e6, 'micro-USD');

    // The same totals on the call's scorecard.
    const metrics = findEvent(timeline, 'call.metrics')!.fields;
    expect(Number(metrics.cost_usd)).to.be.closeTo(row.costUsd!, 0.000001);
    expect(Number(metrics.input_tokens)).to.equal(row.usage.input_tokens);
    expect(Number(metrics.output_audio_tokens)).to.equal(row.usage.output_audio_tokens);
    expect(metrics.sessions).to.equal('1');
  });

  describe('when Postgres refuses the calls row at the end of the call', () => {
    /** Fails this call's final update (its row may not leave in_progress) until the returned function is called. */
    const refuseFinalUpdate = (callSid: string) =>
      refuseCallRow(ctx.knex, callSid, 'refuse_end', "status = 'in_progress' OR status = 'received'");

    it('writes it again once Postgres takes it: the row is complete and the timeline says nothing failed', async () => {
      const stack = await ctx.start();
      const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, records desk.' });
      const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 2500 }], hangupWhenScriptEnds: true });
      const allow = await refuseFinalUpdate(call.callSid);
      try {
        await waitFor(
          async () => (await scrapeMetric(stack.bridges[0]!.port, 'bridge_call_record_retries_total')) >= 1,
          {
            timeoutMs: 30_000,
            message: 'the bridge retrying the refused row',
          },
        );
      } finally {
        await allow();
      }
      const timeline = await finishedTimeline(ctx.redis, (await call.done).callSid);
      const row = await createCallRepository(ctx.knex).findByCallSid(call.callSid);
      expect(row?.status).to.equal('completed');
      expect(row?.endReason).to.equal('twilio_stop');
      expect(findEvent(timeline, 'call.record_failed')).to.equal(undefined);
    });

    it('says so on the timeline when every retry is refused', async () => {
      const stack = await ctx.start();
      const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, records desk.' });
      const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 2500 }], hangupWhenScriptEnds: true });
      const allow = await refuseFinalUpdate(call.callSid);
      let timeline;
      try {
        timeline = await finishedTimeline(ctx.redis, (await call.done).callSid, 30_000);
      } finally {
        await allow();
      }
      const failed = findEvent(timeline, 'call.record_failed');
      expect(failed?.fields.attempts).to.equal(String(CALL_ROW_RETRY_DELAYS_MS.length + 1));
      expect(failed?.fields.error).to.match(/refuse_end_/);
      const names = timeline.map((e) => e.event);
      expect(names.indexOf('call.record_failed')).to.be.lessThan(names.indexOf('call.metrics'));
      expect((await createCallRepository(ctx.knex).findByCallSid(call.callSid))?.status).to.equal('in_progress');
      expect(await scrapeMetric(stack.bridges[0]!.port, 'bridge_call_record_failures_total')).to.equal(1);
    });
  });
});
