/**
 * Resuming a call another bridge served: the record it wrote is read from Redis
 * into the new bridge's mirror, and its last item says whether the caller is
 * owed a reply (one the old bridge's death cut is never recorded).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createLogger } from '@voice/logging';
import { ConversationWriter, callKeys, quitRedis, type RedisClient } from '@voice/redis';
import { loadConversation, resumeReply } from '../../src/call/call-resume.js';
import { ConversationRecord, type NewConversationEntry } from '../../src/call/conversation-record.js';
import { assertionRedis } from '../../../../test/support/redis.js';

const silent = createLogger({ service: 'test', instance: 'resume', level: 'silent' });
const session: NewConversationEntry = {
  kind: 'session',
  session: 1,
  instructions: 'Be kind.',
  voice: 'alloy',
  tools: '',
  transcription_model: 'm',
  prompt_path: 'fast',
};

describe('bridge: resuming a call from its conversation record', () => {
  let redis: RedisClient;
  const sids: string[] = [];

  before(() => {
    redis = assertionRedis();
  });
  after(async () => {
    if (sids.length > 0) await redis.del(...sids.map((sid) => callKeys.conversation(sid)));
    await quitRedis(redis);
  });

  /** What the old bridge wrote (as it does: one XADD per entry), then what the new bridge reads back. */
  async function resumed(entries: NewConversationEntry[]): Promise<ConversationRecord> {
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    sids.push(callSid);
    const writer = new ConversationWriter({ redis });
    for (const entry of entries)
      await writer.append(callSid, { ...entry, ts: Date.now() } as Parameters<ConversationWriter['append']>[1]);
    const record = new ConversationRecord(callSid, writer, silent);
    await loadConversation(redis, callSid, record, silent);
    return record;
  }

  it('gives the new session what the old one recorded, in order, ahead of what it records itself', async () => {
    const record = await resumed([
      session,
      { kind: 'agent', text: 'Hello.', item_id: 'a1', interrupted: false },
      { kind: 'caller', text: 'Book me in.', item_id: 'c1' },
    ]);
    record.append({ kind: 'agent', text: 'Done.', item_id: 'a2', interrupted: false });
    expect(record.toItems(100).map((e) => e.item)).to.deep.equal([
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello.' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Book me in.' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }] },
    ]);
    expect(record.sessionCount).to.equal(1);
  });

  it('asks again for a reply the caller was owed, never greets a call that was greeted, greets one that was not', async () => {
    const greeted = { kind: 'agent', text: 'Hello.', item_id: 'a1', interrupted: false } as const;
    const said = { kind: 'caller', text: 'Book me in.', item_id: 'c1' } as const;
    expect(resumeReply(await resumed([session]))).to.equal('greeted');
    expect(resumeReply(await resumed([session, greeted]))).to.equal('none');
    expect(resumeReply(await resumed([session, greeted, said]))).to.equal('reasked');
    expect(
      resumeReply(
        await resumed([session, greeted, said, { kind: 'tool_call', call_id: 'k', name: 'book', arguments: '{}' }]),
      ),
    ).to.equal('reasked');
    // Cut by the caller (barge-in): the agent had the floor last; nothing is owed.
    expect(
      resumeReply(await resumed([session, greeted, said, { ...greeted, text: 'Sure, let me', interrupted: true }])),
    ).to.equal('none');
  });
});
