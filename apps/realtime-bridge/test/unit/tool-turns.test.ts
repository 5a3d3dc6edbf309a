/**
 * Tool runs have a deadline: a tool whose database does not answer never leaves
 * the caller in silence, and what it does after the model was told "not done"
 * is recorded, not acted on. Real Postgres (a lock held by another connection
 * is what makes the tool wait), real Redis timeline and conversation record;
 * what the model session would be sent is collected in a list (the session is
 * the outside service).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import {
  closeDatabase,
  createAppointmentRepository,
  createBusinessRepository,
  prepareTestDatabase,
  uniquePhoneNumber,
} from '@voice/db';
import { createLogger } from '@voice/logging';
import { ConversationWriter, callKeys, quitRedis, readTimeline, Timeline, type RedisClient } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { createBridgeMetrics } from '../../src/metrics.js';
import { ConversationRecord } from '../../src/call/conversation-record.js';
import type { CallControlRequest } from '../../src/call/tool-executor.js';
import { createToolExecutor } from '../../src/call/tool-executor.js';
import { ToolTurns } from '../../src/call/tool-turns.js';
import { assertionRedis } from '../../../../test/support/redis.js';

type FunctionCallDone = Extract<RealtimeServerEvent, { type: 'response.function_call_arguments.done' }>;

const silent = createLogger({ service: 'test', instance: 'tools', level: 'silent' });
const TIMEOUT_MS = 300;

describe('bridge: tool runs have a deadline', function () {
  this.timeout(20_000);
  let knex: Knex;
  let redis: RedisClient;
  let timeline: Timeline;
  const sids: string[] = [];

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
    timeline = new Timeline({ redis, app: 'test', instance: 'tools', logger: silent });
  });
  after(async () => {
    if (sids.length > 0) {
      await redis.del(...sids.flatMap((sid) => [callKeys.timeline(sid), callKeys.conversation(sid)]));
    }
    await quitRedis(redis);
    await closeDatabase(knex);
  });

  async function newBusiness() {
    return createBusinessRepository(knex).create({
      name: 'Deadline Dental',
      aiPrompt: 'You book appointments.',
      greeting: 'Hello.',
      appointmentBookingEnabled: true,
      transferNumber: '+15005550199',
      phoneNumbers: [uniquePhoneNumber()],
    });
  }

  /** One call's tool turns, with what the model was sent and what the call was asked to carry out. */
  function call(businessId: string) {
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    sids.push(callSid);
    const sent: RealtimeClientEvent[] = [];
    const controls: CallControlRequest[] = [];
    /** Tools after which the caller would have been put on hold if the wait lasted. */
    const holds: number[] = [];
    const metrics = createBridgeMetrics(new Registry());
    const turns = new ToolTurns({
      callSid,
      tools: createToolExecutor({
        appointments: createAppointmentRepository(knex),
        businesses: createBusinessRepository(knex),
      }),
      timeline,
      metrics,
      logger: silent,
      conversation: new ConversationRecord(callSid, new ConversationWriter({ redis }), silent),
      timeoutMs: TIMEOUT_MS,
      send: (event) => {
        sent.push(event);
        return true;
      },
      context: () => ({ callSid, businessId }),
      hasActiveResponse: () => false,
      holdIfSlow: () => holds.push(sent.length),
      onControl: (control) => {
        controls.push(control);
        return { respond: true };
      },
    });
    const outputs = () =>
      sent.flatMap((e) =>
        e.type === 'conversation.item.create' && e.item.type === 'function_call_output'
          ? [JSON.parse(e.item.output) as Record<string, unknown>]
          : [],
      );
    const events = async (name: string) => {
      await timeline.settled();
      return (await readTimeline(redis, callSid)).filter((e) => e.event === name).map((e) => e.fields);
    };
    const timeouts = async () => (await metrics.toolTimeouts.get()).values.reduce((sum, v) => sum + v.value, 0);
    return { callSid, turns, sent, controls, holds, outputs, events, timeouts };
  }

  function functionCall(name: string, args: Record<string, unknown>): FunctionCallDone {
    return {
      type: 'response.function_call_arguments.done',
      event_id: `event_${randomBytes(4).toString('hex')}`,
      response_id: 'resp_1',
      item_id: 'item_1',
      output_index: 0,
      call_id: `call_${randomBytes(4).toString('hex')}`,
      name,
      arguments: JSON.stringify(args),
    };
  }

  /** Holds `lockSql` in a transaction of another connection while `during` runs. */
  async function withLock(lockSql: string, during: () => Promise<void>): Promise<void> {
    const locker = await knex.transaction();
    try {
      await locker.raw(lockSql);
      await during();
    } finally {
      await locker.rollback();
    }
  }

  const nextWeek = () => new Date(Date.now() + 7 * 24 * 3600 * 1000 + randomBytes(1)[0]! * 3600 * 1000);

  it('a booking done in time: the model gets it and the timeline says how long it took', async () => {
    const business = await newBusiness();
    const c = call(business.id);
    c.turns.onFunctionCall(
      functionCall('book_appointment', { customer_name: 'Ada', starts_at: nextWeek().toISOString() }),
    );
    await waitFor(() => c.outputs().length === 1, { timeoutMs: 5000, message: 'the output' });
    expect(c.outputs()[0]).to.include({ booked: true });
    const [called] = await c.events('tool.called');
    expect(called).to.include({ name: 'book_appointment', ok: 'true' });
    expect(Number(called!.ms)).to.be.at.least(0);
    expect(called).to.not.have.property('reason');
    expect(c.sent.at(-1)).to.deep.equal({ type: 'response.create' });
  });

  it('a booking while inserts are locked: Postgres cancels it at the deadline, the model hears it was not booked', async () => {
    const business = await newBusiness();
    const c = call(business.id);
    await withLock('LOCK TABLE appointments IN SHARE MODE', async () => {
      c.turns.onFunctionCall(
        functionCall('book_appointment', { customer_name: 'Ada', starts_at: nextWeek().toISOString() }),
      );
      await waitFor(() => c.outputs().length === 1, { timeoutMs: 10_000, message: 'an answer while locked' });
    });
    expect(c.outputs()[0]).to.include({ booked: false, reason: 'timeout' });
    expect(c.holds, 'the caller is put on hold if the wait lasts, from the start of the run').to.deep.equal([0]);
    expect(c.sent.at(-1), 'the model is asked to tell the caller').to.deep.equal({ type: 'response.create' });
    const called = await c.events('tool.called');
    expect(called).to.have.length(1);
    expect(called[0]).to.include({ name: 'book_appointment', ok: 'false', reason: 'timeout' });
    expect(await c.timeouts()).to.equal(1);
    // Nothing lands once the lock is gone, and the tool had nothing late to say.
    await new Promise((resolve) => setTimeout(resolve, 2 * TIMEOUT_MS));
    expect(await createAppointmentRepository(knex).listForBusiness(business.id)).to.deep.equal([]);
    expect(await c.events('tool.late')).to.deep.equal([]);
    expect(c.outputs()).to.have.length(1);
  });

  it('end_call puts nobody on hold: the goodbye is the last thing the caller hears', async () => {
    const business = await newBusiness();
    const c = call(business.id);
    c.turns.onFunctionCall(functionCall('end_call', { reason: 'done' }));
    await waitFor(() => c.outputs().length === 1, { timeoutMs: 5000, message: 'the output' });
    expect(c.controls).to.deep.equal([{ kind: 'end_call' }]);
    expect(c.holds).to.deep.equal([]);
  });

  it('a tool that cannot keep its deadline: the model is told it was not done; its late answer is recorded, not acted on', async () => {
    const business = await newBusiness();
    const c = call(business.id);
    // transfer_call reads the business's human number; a lock that blocks reads holds it past any deadline.
    await withLock('LOCK TABLE businesses IN ACCESS EXCLUSIVE MODE', async () => {
      c.turns.onFunctionCall(functionCall('transfer_call', {}));
      await waitFor(() => c.outputs().length === 1, { timeoutMs: 10_000, message: 'an answer while locked' });
      expect(c.outputs()[0]!.error).to.match(/did not answer in time/);
      expect((await c.events('tool.called'))[0]).to.include({ name: 'transfer_call', ok: 'false', reason: 'timeout' });
    });
    await waitFor(async () => (await c.events('tool.late')).length === 1, { timeoutMs: 10_000, message: 'late' });
    expect((await c.events('tool.late'))[0]).to.include({ name: 'transfer_call', ok: 'true' });
    expect(c.controls, 'the transfer the model was told had not happened is not carried out').to.deep.equal([]);
    expect(c.outputs(), 'the model is given one answer per call').to.have.length(1);
    expect(await c.timeouts()).to.equal(1);
  });
});
