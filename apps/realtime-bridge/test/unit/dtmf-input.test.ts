/**
 * Keypad entries that end while no model session can take them (set-up, a
 * reconnect, a call resuming after a move) wait for one instead of being lost.
 * The timeline is the real one on Redis; what the model session would be sent
 * is collected in a list (the session is the outside service).
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { createLogger } from '@voice/logging';
import { callKeys, quitRedis, readTimeline, Timeline, type RedisClient } from '@voice/redis';
import { callTimeline } from '../../src/call/call-timeline.js';
import { DtmfInput } from '../../src/call/dtmf-input.js';
import { assertionRedis } from '../../../../test/support/redis.js';

const silent = createLogger({ service: 'test', instance: 'dtmf', level: 'silent' });

describe('bridge: keypad entries while no model session is live', () => {
  let redis: RedisClient;
  let timeline: Timeline;
  const sids: string[] = [];

  before(() => {
    redis = assertionRedis();
    timeline = new Timeline({ redis, app: 'test', instance: 'dtmf', logger: silent });
  });
  after(async () => {
    if (sids.length > 0) await redis.del(...sids.map((sid) => callKeys.timeline(sid)));
    await quitRedis(redis);
  });

  /**
   * One call's keypad input; `live` says whether a session takes events, `dtmfOn` what the prompt
   * said. `entryGapMs` 0: each key is an entry by itself.
   */
  function call(opts: { dtmfOn?: boolean; entryGapMs?: number } = {}) {
    const callSid = `CA${randomBytes(16).toString('hex')}`;
    sids.push(callSid);
    const state = { live: false, dtmfOn: opts.dtmfOn as boolean | undefined, sent: [] as RealtimeClientEvent[] };
    const turns: string[] = [];
    const dtmf = new DtmfInput({
      tl: callTimeline(timeline, callSid, silent),
      enabled: () => state.dtmfOn,
      send: (event) => {
        if (!state.live) return false;
        state.sent.push(event);
        return true;
      },
      hasActiveResponse: () => false,
      recordTurn: (text) => turns.push(text),
      entryGapMs: opts.entryGapMs ?? 0,
    });
    const dtmfEntries = async () => {
      await timeline.settled();
      return (await readTimeline(redis, callSid)).filter((e) => e.event === 'dtmf.received').map((e) => e.fields);
    };
    return { dtmf, state, turns, dtmfEntries };
  }

  function texts(sent: RealtimeClientEvent[]): string[] {
    return sent.flatMap((e) =>
      e.type === 'conversation.item.create' && e.item.type === 'message'
        ? e.item.content.map((c) => ('text' in c ? (c.text ?? '') : ''))
        : [],
    );
  }

  it('sends an entry that ended before the session was live once it is, saying how long it waited', async () => {
    const { dtmf, state, turns, dtmfEntries } = call({ entryGapMs: 60_000 });
    dtmf.onDigit('4');
    dtmf.onDigit('2');
    dtmf.onDigit('#');
    state.dtmfOn = true;
    dtmf.onDigit('7');
    dtmf.onDigit('#');
    expect(dtmf.waitingEntries).to.equal(2);
    expect(state.sent).to.deep.equal([]);
    await new Promise((resolve) => setTimeout(resolve, 20));

    state.live = true;
    dtmf.onLive();
    expect(dtmf.waitingEntries).to.equal(0);
    expect(texts(state.sent)).to.deep.equal([
      'The caller entered 42 on the keypad.',
      'The caller pressed 7 on the keypad.',
    ]);
    expect(state.sent.filter((e) => e.type === 'response.create')).to.have.length(2);
    expect(turns).to.have.length(2);
    const entries = await dtmfEntries();
    expect(entries.map((f) => [f.digit, f.outcome, f.ended_by])).to.deep.equal([
      ['42', 'sent_to_model', 'pound'],
      ['7', 'sent_to_model', 'pound'],
    ]);
    for (const f of entries) expect(Number(f.waited_ms)).to.be.at.least(15);
  });

  it('records an entry still waiting when the call ends as never reaching the model', async () => {
    const { dtmf, state, dtmfEntries } = call({ dtmfOn: true, entryGapMs: 60_000 });
    dtmf.onDigit('1');
    dtmf.onDigit('#');
    dtmf.onDigit('5');
    dtmf.stop();
    state.live = true;
    dtmf.onLive();
    expect(state.sent).to.deep.equal([]);
    expect((await dtmfEntries()).map((f) => [f.digit, f.outcome, f.reason, f.ended_by])).to.deep.equal([
      ['1', 'ignored', 'not_live', 'pound'],
      ['5', 'ignored', 'not_live', 'call_end'],
    ]);
  });

  it('keeps a waiting entry from the model when the business turns out to have DTMF off', async () => {
    const { dtmf, state, dtmfEntries } = call();
    dtmf.onDigit('9');
    state.dtmfOn = false;
    state.live = true;
    dtmf.onLive();
    expect(state.sent).to.deep.equal([]);
    expect((await dtmfEntries()).map((f) => [f.digit, f.outcome, f.reason])).to.deep.equal([
      ['9', 'ignored', 'dtmf_disabled'],
    ]);
  });

  it('holds at most eight entries; more are recorded as ignored, not queued without bound', async () => {
    const { dtmf, state, dtmfEntries } = call({ dtmfOn: true });
    for (const digit of '0123456789') dtmf.onDigit(digit);
    expect(dtmf.waitingEntries).to.equal(8);
    state.live = true;
    dtmf.onLive();
    expect(texts(state.sent)).to.have.length(8);
    const entries = await dtmfEntries();
    expect(entries.filter((f) => f.outcome === 'ignored').map((f) => f.digit)).to.deep.equal(['8', '9']);
    const firstEight = '01234567'.split('');
    expect(entries.filter((f) => f.outcome === 'sent_to_model').map((f) => f.digit)).to.deep.equal(firstEight);
  });
});
