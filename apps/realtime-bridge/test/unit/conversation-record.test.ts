/** The bridge's mirror of the conversation record, against real Redis: what a new session is given. */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createLogger } from '@voice/logging';
import { ConversationWriter, callKeys, quitRedis, readConversation, type RedisClient } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { ConversationRecord } from '../../src/call/conversation-record.js';
import { assertionRedis } from '../../../../test/support/redis.js';

const silent = createLogger({ service: 'test', instance: 'conversation', level: 'silent' });

describe('bridge: the conversation record mirror', () => {
  let redis: RedisClient;
  const callSid = `CA${randomBytes(16).toString('hex')}`;

  before(() => {
    redis = assertionRedis();
  });
  after(async () => {
    await redis.del(callKeys.conversation(callSid));
    await quitRedis(redis);
  });

  it('replays turns and tool calls as items, keeps the newest, and writes the same entries to Redis', async () => {
    const record = new ConversationRecord(callSid, new ConversationWriter({ redis }), silent);
    record.append({
      kind: 'session',
      session: 1,
      instructions: 'Be kind.',
      voice: 'alloy',
      tools: '',
      transcription_model: 'm',
      prompt_path: 'fast',
    });
    record.append({ kind: 'agent', text: 'Hello.', item_id: 'a1', interrupted: false });
    record.append({ kind: 'caller', text: 'Book me in.', item_id: 'c1' });
    record.append({ kind: 'caller', text: '   ', item_id: 'c-empty' });
    record.append({ kind: 'tool_call', call_id: 'call_1', name: 'book_appointment', arguments: '{}' });
    const midway = record.entryCount;
    record.append({
      kind: 'tool_result',
      call_id: 'call_1',
      name: 'book_appointment',
      output: '{"booked":true}',
      ok: true,
    });
    record.append({
      kind: 'usage',
      response_id: 'r1',
      input_tokens: 1,
      output_tokens: 1,
      input_text_tokens: 1,
      input_audio_tokens: 0,
      input_cached_tokens: 0,
      input_cached_text_tokens: 0,
      input_cached_audio_tokens: 0,
      output_text_tokens: 1,
      output_audio_tokens: 0,
    });
    record.append({ kind: 'agent', text: 'You are booked.', item_id: 'a2', interrupted: false });

    expect(record.itemCount).to.equal(5);
    expect(record.sessionCount).to.equal(1);
    expect(record.toItems(100).map((e) => e.item)).to.deep.equal([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Book me in.' }] },
      { type: 'function_call', call_id: 'call_1', name: 'book_appointment', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: '{"booked":true}' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'You are booked.' }] },
    ]);
    // The newest two: the output whose call was dropped goes with it.
    expect(record.toItems(2).map((e) => e.item.type)).to.deep.equal(['message']);
    // What a session prepared at `midway` has not been given yet.
    expect(record.itemsSince(midway).map((e) => e.item.type)).to.deep.equal(['function_call_output', 'message']);

    await waitFor(async () => (await readConversation(redis, callSid)).entries.length === record.entryCount, {
      message: 'entries in Redis',
    });
    expect((await readConversation(redis, callSid)).entries).to.deep.equal(record.all());
  });
});
