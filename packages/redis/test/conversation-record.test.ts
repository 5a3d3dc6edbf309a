/**
 * The conversation record against real Redis: entries round-trip as flat
 * string fields (what redis-cli shows), the TTL is set once per call, and an
 * entry that does not fit the schema is skipped, not fatal.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  CONVERSATION_DEFAULTS,
  ConversationWriter,
  callKeys,
  quitRedis,
  readConversation,
  type RedisClient,
} from '../src/index.js';
import { assertionRedis } from '../../../test/support/redis.js';

const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

describe('redis: the conversation record', () => {
  let redis: RedisClient;
  const written: string[] = [];

  before(() => {
    redis = assertionRedis();
  });
  afterEach(async () => {
    for (const callSid of written.splice(0)) await redis.del(callKeys.conversation(callSid));
  });
  after(async () => {
    await quitRedis(redis);
  });

  function call(): string {
    const callSid = newCallSid();
    written.push(callSid);
    return callSid;
  }

  it('appends each kind of entry and reads them back in order, typed', async () => {
    const callSid = call();
    const writer = new ConversationWriter({ redis });
    const ts = Date.now();
    await writer.append(callSid, {
      kind: 'session',
      ts,
      session: 1,
      instructions: 'Be kind.',
      voice: 'alloy',
      tools: 'book_appointment',
      transcription_model: 'gpt-4o-mini-transcribe',
      prompt_path: 'fast',
    });
    await writer.append(callSid, {
      kind: 'agent',
      ts,
      text: 'Hello, Test Dental.',
      item_id: 'item_1',
      interrupted: false,
    });
    await writer.append(callSid, { kind: 'caller', ts, text: 'I need a cleaning.', item_id: 'item_2' });
    await writer.append(callSid, {
      kind: 'tool_call',
      ts,
      call_id: 'call_1',
      name: 'book_appointment',
      arguments: '{"a":1}',
    });
    await writer.append(callSid, {
      kind: 'tool_result',
      ts,
      call_id: 'call_1',
      name: 'book_appointment',
      output: '{"booked":true}',
      ok: true,
    });
    await writer.append(callSid, {
      kind: 'usage',
      ts,
      response_id: 'resp_1',
      input_tokens: 120,
      output_tokens: 80,
      input_text_tokens: 100,
      input_audio_tokens: 20,
      input_cached_tokens: 64,
      input_cached_text_tokens: 64,
      input_cached_audio_tokens: 0,
      output_text_tokens: 10,
      output_audio_tokens: 70,
    });

    const { entries, invalid } = await readConversation(redis, callSid);
    expect(invalid).to.deep.equal([]);
    expect(entries.map((e) => e.kind)).to.deep.equal([
      'session',
      'agent',
      'caller',
      'tool_call',
      'tool_result',
      'usage',
    ]);
    const result = entries[4]!;
    expect(result.kind === 'tool_result' && result.ok).to.equal(true);
    const usage = entries[5]!;
    expect(usage.kind === 'usage' ? usage.output_audio_tokens : -1).to.equal(70);

    // What on-call sees with redis-cli: flat strings, kind first.
    const raw = await redis.xrange(callKeys.conversation(callSid), '-', '+');
    expect(raw[2]![1]).to.deep.equal([
      'kind',
      'caller',
      'ts',
      String(ts),
      'text',
      'I need a cleaning.',
      'item_id',
      'item_2',
    ]);
  });

  it('gives the record a TTL on the first write (shorter than the timeline, longer than any call)', async () => {
    const callSid = call();
    const writer = new ConversationWriter({ redis });
    await writer.append(callSid, { kind: 'caller', ts: Date.now(), text: 'hi', item_id: '' });
    const ttl = await redis.ttl(callKeys.conversation(callSid));
    expect(ttl).to.be.greaterThan(CONVERSATION_DEFAULTS.ttlSeconds - 10);
    expect(ttl).to.be.at.most(CONVERSATION_DEFAULTS.ttlSeconds);
  });

  it('skips an entry that does not fit the schema and says which', async () => {
    const callSid = call();
    const writer = new ConversationWriter({ redis });
    await writer.append(callSid, { kind: 'caller', ts: Date.now(), text: 'first', item_id: '' });
    const badId = await redis.xadd(callKeys.conversation(callSid), '*', 'kind', 'gossip', 'ts', '1');
    await writer.append(callSid, { kind: 'agent', ts: Date.now(), text: 'second', item_id: '', interrupted: true });
    const { entries, invalid } = await readConversation(redis, callSid);
    expect(entries.map((e) => ('text' in e ? e.text : ''))).to.deep.equal(['first', 'second']);
    expect(invalid).to.deep.equal([badId]);
    const agent = entries[1]!;
    expect(agent.kind === 'agent' && agent.interrupted).to.equal(true);
  });
});
