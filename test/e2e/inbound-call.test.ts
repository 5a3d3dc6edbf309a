/**
 * A phone call placed exactly as Twilio places it, through the real webhook,
 * media gateway and realtime bridge, against the OpenAI Realtime double.
 */
import { expect } from 'chai';
import { createCallRepository } from '@voice/db';
import { waitFor } from '@voice/testkit';
import { formatTimeline, readTimeline } from '@voice/redis';
import { useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { callKeysPresent, timelineEvents } from '../support/redis.js';
import { expectSubsequence } from '../support/assertions.js';

describe('e2e: an inbound call', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  it('greets the caller, carries their speech to the model byte for byte, plays the reply, and records the call', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start({ realtime: { replies: ['Sure. Which day works for you?'] } });
    const business = await createTestBusiness(knex, { greeting: 'Hi, this is Test Dental.' });
    const call = stack.call(business.phoneNumber, {
      script: [{ silenceMs: 5000 }, { say: 'I need a cleaning please.' }, { silenceMs: 4500 }],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;
    const callSid = summary.callSid;

    // The caller heard a non-silent greeting, then the reply.
    expect(summary.firstAudioAtMs, 'first audible audio').to.be.a('number');
    expect(summary.heardAudibleMs).to.be.greaterThan(1000);
    const session = stack.realtime.sessions.find((s) => s.receivedEvents.some((e) => e.type === 'session.update'))!;
    expect(session, 'a model session').not.to.equal(undefined);
    const audioResponses = session.responses.filter((r) => r.kind === 'audio');
    expect(audioResponses.map((r) => r.text)).to.deep.equal([
      'Hi, this is Test Dental.',
      'Sure. Which day works for you?',
    ]);
    const reply = audioResponses[1]!;
    expect(reply.status).to.equal('completed');
    const replyMarksPlayed = call.marks.filter((m) => m.name.startsWith(`${reply.itemId}|`) && m.played === true);
    expect(replyMarksPlayed.length, 'reply audio played to the caller').to.be.greaterThan(1);

    // Everything the caller said reached the model, in order, byte for byte.
    await waitFor(() => !session.isOpen, { message: 'model session closed' });
    const sent = Buffer.concat(call.sentPayloads);
    expect(sent.length).to.equal(summary.sentFrames * 160);
    expect(session.inputAudio().equals(sent), 'model input equals caller audio').to.equal(true);
    expect(session.userTurns.length).to.equal(1);

    // The timeline tells the whole story in order.
    await waitFor(async () => (await timelineEvents(redis, callSid)).includes('call.metrics'), {
      message: 'call.metrics',
    });
    const events = await timelineEvents(redis, callSid);
    if (process.env.DEBUG_TIMELINE) console.log(formatTimeline(await readTimeline(redis, callSid)));
    // The caller's side in order; the model's side in order (a warm session may open before START).
    expectSubsequence(events, [
      'webhook.received',
      'prebuild.enqueued',
      'ws.accepted',
      'stream.connected',
      'stream.started',
      'greeting.first_audio',
      'caller.speech_started',
      'stream.stopped',
      'call.ended',
      'call.metrics',
    ]);
    expectSubsequence(events, ['openai.connecting', 'openai.connected', 'session.configured', 'greeting.first_audio']);
    // A greeting the bridge held arrives with its `attached` answer and is played at once, so
    // greeting.first_audio may be recorded a moment before link.attached (README's warm timeline).
    expectSubsequence(events, ['stream.started', 'link.attached', 'caller.speech_started']);
    // With warm sessions the bridge may claim the call before or after START; exactly once either way.
    expect(events.filter((e) => e === 'bridge.claimed')).to.have.length(1);
    expect(events).to.include('prompt.prebuilt');
    expect(events).not.to.include('call.silent_failure');
    expect(events).not.to.include('barge_in');

    // The call record.
    const row = await createCallRepository(knex).findByCallSid(callSid);
    expect(row?.status).to.equal('completed');
    expect(row?.rxFrames).to.equal(summary.sentFrames);
    expect(row?.txFrames).to.be.greaterThan(0);
    expect(row?.promptPath).to.equal('fast');
    expect(row?.firstGreetingAudioMs).to.be.a('number');
    expect(row?.openaiConnectMs).to.be.a('number');

    // Nothing leaks: no model session, no per-call keys but the timeline and the conversation record, both expiring.
    expect(stack.realtime.openSessionCount).to.equal(0);
    await waitFor(async () => (await callKeysPresent(redis, callSid)).length === 2, {
      message: 'per-call keys cleaned up',
    });
    expect(await callKeysPresent(redis, callSid)).to.deep.equal([
      `call:{${callSid}}:conversation`,
      `call:{${callSid}}:timeline`,
    ]);
    expect(await redis.ttl(`call:{${callSid}}:conversation`), 'the conversation record expires').to.be.greaterThan(0);
  });
});
