import { expect } from 'chai';
import type { Knex } from 'knex';
import {
  closeDatabase,
  createBusinessRepository,
  createCallRepository,
  prepareTestDatabase,
  uniqueCallSid,
  uniquePhoneNumber,
} from '@voice/db';
import type { CallEnded, CallReceived, CallRepository } from '@voice/db';

describe('call repository', () => {
  let knex: Knex;
  let calls: CallRepository;
  let businessId: string;
  let businessNumber: string;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    calls = createCallRepository(knex);
    businessNumber = uniquePhoneNumber();
    const business = await createBusinessRepository(knex).create({
      name: 'Call Test Co',
      aiPrompt: 'You answer calls.',
      greeting: 'Hello.',
      phoneNumbers: [businessNumber],
    });
    businessId = business.id;
  });

  after(async () => {
    await closeDatabase(knex);
  });

  function received(callSid: string): CallReceived {
    return {
      callSid,
      businessId,
      direction: 'inbound',
      from: uniquePhoneNumber(),
      to: businessNumber,
      status: 'received',
      receivedAt: new Date('2025-03-01T10:00:00.000Z'),
    };
  }

  function ended(overrides: Partial<CallEnded> = {}): CallEnded {
    return {
      endedAt: new Date('2025-03-01T10:02:00.000Z'),
      status: 'completed',
      endReason: 'twilio_stop',
      rxFrames: 6000,
      txFrames: 4800,
      isGhost: false,
      silentFailure: false,
      promptPath: 'fast',
      openaiConnectMs: 180,
      firstGreetingAudioMs: 420,
      metrics: { connect: 180, wait_prompt: 2, configure: 15, total: 420 },
      bridgeInstance: 'bridge-1',
      ...overrides,
    };
  }

  it('records a webhook once even when Twilio retries it', async () => {
    const callSid = uniqueCallSid();
    const webhook = received(callSid);
    expect(await calls.recordReceived(webhook)).to.equal(true);
    expect(await calls.recordReceived({ ...webhook, from: '+15550000000' }), 'retry is a no-op').to.equal(false);

    const rows = await knex('calls').where({ call_sid: callSid });
    expect(rows).to.have.length(1);
    const call = await calls.findByCallSid(callSid);
    expect(call).to.deep.include({
      businessId,
      direction: 'inbound',
      from: webhook.from,
      to: businessNumber,
      status: 'received',
      rxFrames: 0,
      isGhost: false,
      promptPath: null,
      metrics: {},
    });
    expect(call?.receivedAt?.toISOString()).to.equal('2025-03-01T10:00:00.000Z');
  });

  it('records a call to an unknown number with no business', async () => {
    const callSid = uniqueCallSid();
    await calls.recordReceived({ ...received(callSid), businessId: null, status: 'rejected' });
    expect(await calls.findByCallSid(callSid)).to.deep.include({ businessId: null, status: 'rejected' });
  });

  it('marks the stream started without regressing an ended call', async () => {
    const callSid = uniqueCallSid();
    await calls.recordReceived(received(callSid));
    const at = new Date('2025-03-01T10:00:01.500Z');
    await calls.markStreamStarted(callSid, { at, gatewayInstance: 'gateway-1' });
    expect(await calls.findByCallSid(callSid)).to.deep.include({
      status: 'in_progress',
      streamStartedAt: at,
      gatewayInstance: 'gateway-1',
    });

    await calls.recordEnded(callSid, ended());
    await calls.markStreamStarted(callSid, { at: new Date(), gatewayInstance: 'gateway-2' });
    const call = await calls.findByCallSid(callSid);
    expect(call?.status).to.equal('completed');
    expect(call?.streamStartedAt).to.deep.equal(at);
  });

  it('records the end of a call: counts, flags and the metrics breakdown', async () => {
    const callSid = uniqueCallSid();
    await calls.recordReceived(received(callSid));
    const call = await calls.recordEnded(callSid, ended());

    expect(call).to.deep.include({
      businessId,
      status: 'completed',
      endReason: 'twilio_stop',
      rxFrames: 6000,
      txFrames: 4800,
      promptPath: 'fast',
      openaiConnectMs: 180,
      firstGreetingAudioMs: 420,
      bridgeInstance: 'bridge-1',
    });
    expect(call.metrics).to.deep.equal({ connect: 180, wait_prompt: 2, configure: 15, total: 420 });
    expect(call.endedAt?.toISOString()).to.equal('2025-03-01T10:02:00.000Z');
    expect(call.updatedAt.getTime()).to.be.at.least(call.createdAt.getTime());
    expect(await calls.findByCallSid(callSid)).to.deep.equal(call);
  });

  it('updates metrics on a later end record without erasing what it does not know', async () => {
    const callSid = uniqueCallSid();
    await calls.recordEnded(callSid, ended());
    const updated = await calls.recordEnded(
      callSid,
      ended({ promptPath: null, openaiConnectMs: null, metrics: { total: 450, barge_ins: 2 } }),
    );
    expect(updated.promptPath).to.equal('fast');
    expect(updated.openaiConnectMs).to.equal(180);
    expect(updated.metrics).to.deep.equal({ connect: 180, wait_prompt: 2, configure: 15, total: 450, barge_ins: 2 });
  });

  it('creates the row when the webhook row is missing, and a late webhook fills it in', async () => {
    const callSid = uniqueCallSid();
    const call = await calls.recordEnded(
      callSid,
      ended({ status: 'failed', endReason: 'openai_unreachable', silentFailure: true, txFrames: 0 }),
    );
    expect(call).to.deep.include({
      callSid,
      businessId: null,
      receivedAt: null,
      status: 'failed',
      silentFailure: true,
      txFrames: 0,
    });

    const webhook = received(callSid);
    expect(await calls.recordReceived(webhook)).to.equal(true);
    expect(await calls.findByCallSid(callSid)).to.deep.include({
      businessId,
      from: webhook.from,
      status: 'failed',
    });
  });

  it('returns null for an unknown call', async () => {
    expect(await calls.findByCallSid(uniqueCallSid())).to.equal(null);
  });
});
