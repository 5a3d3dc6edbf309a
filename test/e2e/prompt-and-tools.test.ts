/**
 * The prompt's fast and slow paths, and the booking tool landing a real
 * appointment in Postgres.
 */
import { expect } from 'chai';
import { createAppointmentRepository } from '@voice/db';
import { waitFor } from '@voice/testkit';
import type { TimelineEntry } from '@voice/redis';
import type { StackOptions } from '../support/stack.js';
import { finishedTimeline, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';

const CALLER_TURN = [{ silenceMs: 3000 }, { say: 'Book me for a cleaning please.' }, { silenceMs: 6000 }];

describe('e2e: prompt paths and tools', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  const finished = (callSid: string) => finishedTimeline(ctx.redis, callSid);
  const field = (t: TimelineEntry[], event: string, name: string) => t.find((e) => e.event === event)?.fields[name];
  const findEvents = (t: TimelineEntry[], event: string) => t.filter((e) => e.event === event);

  it('builds the prompt from the database (slow path) when no prebuilt prompt arrives, and says so', async () => {
    const { knex } = ctx;
    const options: StackOptions = { env: { PREBUILD_WORKER_ENABLED: 'false' }, bridgeEnv: { PROMPT_WAIT_MS: '200' } };
    const stack = await ctx.start(options);
    const business = await createTestBusiness(knex, { greeting: 'Hi from the slow path.' });
    const summary = await stack.call(business.phoneNumber, {
      script: [{ silenceMs: 3500 }],
      hangupWhenScriptEnds: true,
    }).done;
    const timeline = await finished(summary.callSid);
    expect(field(timeline, 'session.configured', 'prompt_path')).to.equal('slow');
    expect(field(timeline, 'session.configured', 'prompt_reason')).to.equal('prebuild_missing');
    expect(summary.heardAudibleMs).to.be.greaterThan(300);
    expect(stack.realtime.sessions[0]!.responses[0]!.text).to.equal('Hi from the slow path.');
  });

  it('a caller who hangs up while the prompt is still awaited leaves no model session open', async () => {
    const { knex } = ctx;
    // No prebuild and a long prompt wait: the model session is open well before the prompt is there.
    const stack = await ctx.start({
      env: { PREBUILD_WORKER_ENABLED: 'false' },
      bridgeEnv: { PROMPT_WAIT_MS: '20000' },
    });
    const business = await createTestBusiness(knex);
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 1500 }], hangupWhenScriptEnds: true });
    await waitFor(() => stack.realtime.openSessionCount === 1, { timeoutMs: 15_000, message: 'model session open' });
    const timeline = await finished((await call.done).callSid);
    expect(findEvents(timeline, 'session.configured'), 'hung up before the prompt came').to.deep.equal([]);
    await waitFor(() => stack.realtime.openSessionCount === 0, {
      timeoutMs: 15_000,
      message: 'the model session closed after the call ended',
    });
    expect(stack.realtime.totalConnections).to.equal(1);
  });

  it('books an appointment through the tool, answers the model and carries on talking', async () => {
    const { knex } = ctx;
    const startsAt = new Date(Date.now() + 7 * 24 * 3600 * 1000);
    startsAt.setUTCMinutes(0, 0, 0);
    const stack = await ctx.start({
      realtime: {
        functionCalls: [
          {
            onTurn: 1,
            name: 'book_appointment',
            arguments: { customer_name: 'Ada Lovelace', starts_at: startsAt.toISOString() },
          },
        ],
        replyAfterToolText: 'You are booked.',
      },
    });
    const business = await createTestBusiness(knex, { appointmentBookingEnabled: true, greeting: 'Hi, Test Dental.' });
    const summary = await stack.call(business.phoneNumber, { script: CALLER_TURN, hangupWhenScriptEnds: true }).done;
    const timeline = await finished(summary.callSid);

    const appointments = await createAppointmentRepository(knex).listForBusiness(business.id);
    expect(appointments).to.have.length(1);
    expect(appointments[0]!.customerName).to.equal('Ada Lovelace');
    expect(appointments[0]!.startsAt.toISOString()).to.equal(startsAt.toISOString());
    expect(appointments[0]!.callSid).to.equal(summary.callSid);

    const session = stack.realtime.sessions[0]!;
    expect(JSON.parse(session.functionCallOutputs[0]!.output)).to.include({ booked: true });
    expect(session.responses.map((r) => r.text)).to.include('You are booked.');
    // end_call and transfer_call are on for this business too (the columns' default), but this bridge has no
    // Twilio REST credentials to hang up or redirect with, so it does not offer them (agent-control.test.ts does).
    expect(field(timeline, 'session.configured', 'tool_names')).to.equal('book_appointment');
    expect(field(timeline, 'session.configured', 'tools')).to.equal('1');
    expect(field(timeline, 'tool.called', 'ok')).to.equal('true');
  });

  it('answers the model usefully when the slot is already taken', async () => {
    const { knex } = ctx;
    const startsAt = new Date(Date.now() + 9 * 24 * 3600 * 1000);
    startsAt.setUTCMinutes(30, 0, 0);
    const business = await createTestBusiness(knex, { appointmentBookingEnabled: true, greeting: 'Hi, Test Dental.' });
    const taken = await createAppointmentRepository(knex).book({
      businessId: business.id,
      customerName: 'First',
      startsAt,
      durationMinutes: 30,
    });
    expect(taken.ok).to.equal(true);
    const stack = await ctx.start({
      realtime: {
        functionCalls: [
          {
            onTurn: 1,
            name: 'book_appointment',
            arguments: { customer_name: 'Second', starts_at: startsAt.toISOString() },
          },
        ],
      },
    });
    const summary = await stack.call(business.phoneNumber, { script: CALLER_TURN, hangupWhenScriptEnds: true }).done;
    const timeline = await finished(summary.callSid);
    const output = JSON.parse(stack.realtime.sessions[0]!.functionCallOutputs[0]!.output) as Record<string, unknown>;
    expect(output).to.include({ booked: false, reason: 'slot_taken' });
    expect(String(output.error)).to.match(/another time/);
    expect(field(timeline, 'tool.called', 'ok')).to.equal('false');
    expect(
      stack.realtime.sessions[0]!.responses.filter((r) => r.kind === 'audio').length,
      'the conversation went on',
    ).to.be.greaterThan(1);
  });

  it('a booking the database cannot make in time: the caller hears the hold clip, then the agent say so, and nothing is booked later', async () => {
    const { knex } = ctx;
    const startsAt = new Date(Date.now() + 10 * 24 * 3600 * 1000);
    startsAt.setUTCMinutes(0, 0, 0);
    const business = await createTestBusiness(knex, { appointmentBookingEnabled: true, greeting: 'Hi, Test Dental.' });
    const stack = await ctx.start({
      // The hold clip starts 300 ms into the wait (1.2 s by default, longer than this 1 s deadline).
      bridgeEnv: { TOOL_TIMEOUT_MS: '1000', HOLD_AUDIO_AFTER_MS: '300' },
      realtime: {
        functionCalls: [
          {
            onTurn: 1,
            name: 'book_appointment',
            arguments: { customer_name: 'Ada', starts_at: startsAt.toISOString() },
          },
        ],
        replyAfterToolText: 'Sorry, I could not book that just now.',
      },
    });
    // A report holding a lock that blocks inserts into appointments for the whole call.
    const locker = await knex.transaction();
    let timeline: TimelineEntry[];
    let caller: ReturnType<typeof stack.call>;
    try {
      await locker.raw('LOCK TABLE appointments IN SHARE MODE');
      caller = stack.call(business.phoneNumber, { script: CALLER_TURN, hangupWhenScriptEnds: true });
      timeline = await finished((await caller.done).callSid);
    } finally {
      await locker.rollback();
    }
    const session = stack.realtime.sessions[0]!;
    expect(JSON.parse(session.functionCallOutputs[0]!.output)).to.include({ booked: false, reason: 'timeout' });
    const answer = session.responses.find((r) => r.text === 'Sorry, I could not book that just now.');
    expect(answer?.status).to.equal('completed');
    expect(
      caller.marks.some((m) => m.name.startsWith(`${answer!.itemId}|`) && m.played),
      'the caller heard it while the lock was still held',
    ).to.equal(true);
    const called = timeline.find((e) => e.event === 'tool.called')!;
    expect(called.fields).to.include({ name: 'book_appointment', ok: 'false', reason: 'timeout' });
    expect(findEvents(timeline, 'tool.late')).to.deep.equal([]);
    const spoke = timeline.find((e) => e.event === 'caller.speech_started')!;
    const held = findEvents(timeline, 'clip.played').filter((e) => e.fields.clip === 'hold');
    expect(
      held.some((e) => e.ts > spoke.ts && e.ts < called.ts),
      'the hold clip played while the booking waited',
    ).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await createAppointmentRepository(knex).listForBusiness(business.id), 'nothing booked later').to.deep.equal(
      [],
    );
  });

  it('runs a business without tools as pure conversation, and records it', async () => {
    const { knex } = ctx;
    const stack = await ctx.start();
    const business = await createTestBusiness(knex, {
      appointmentBookingEnabled: false,
      endCallEnabled: false,
      transferCallEnabled: false,
    });
    const summary = await stack.call(business.phoneNumber, {
      script: [{ silenceMs: 2500 }],
      hangupWhenScriptEnds: true,
    }).done;
    const timeline = await finished(summary.callSid);
    expect(field(timeline, 'session.configured', 'tools')).to.equal('0');
    expect(field(timeline, 'session.configured', 'tool_names')).to.equal('');
    expect(stack.realtime.sessions[0]!.config.tools ?? []).to.deep.equal([]);
  });
});
