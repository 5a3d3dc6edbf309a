/**
 * The call timeline while Redis is unreachable, against a private redis-server
 * (a free port, no persistence) that the test stops and starts again empty:
 * never the shared development Redis. Entries written meanwhile reach the
 * timeline once Redis is back, in order and with their own timestamps; past
 * the buffer's bound the oldest are dropped and reported as `timeline.lost`.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createLogger } from '@voice/logging';
import { waitFor } from '@voice/testkit';
import { Timeline, callKeys, createRedis, quitRedis, readTimeline, type RedisClient } from '../src/index.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../../../scripts/bench/private-redis.js';

const silent = createLogger({ service: 'test', instance: 'timeline-outage', level: 'silent' });
const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

describe('redis: the call timeline through a Redis restart', function () {
  this.timeout(30_000);
  let server: PrivateRedis;
  let writer: RedisClient;
  let reader: RedisClient;

  before(function () {
    if (!redisServerAvailable()) this.skip();
  });
  beforeEach(async () => {
    server = await startPrivateRedis();
    const endpoint = { url: server.url };
    writer = createRedis({ endpoint, name: 'timeline-writer', role: 'command', logger: silent });
    reader = createRedis({ endpoint, name: 'timeline-reader', role: 'command', logger: silent });
    await Promise.all([writer.ping(), reader.ping()]);
  });
  afterEach(async () => {
    await Promise.all([quitRedis(writer), quitRedis(reader)]);
    await server.stop();
  });

  async function restartEmpty(): Promise<void> {
    await server.stop();
    await waitFor(() => writer.status !== 'ready', { timeoutMs: 5000, message: 'the writer notices Redis is gone' });
  }
  async function comeBack(): Promise<void> {
    server = await startPrivateRedis({ port: server.port });
  }

  it('keeps the entries written while Redis is down and writes them, in order, when it is back', async () => {
    const tl = new Timeline({ redis: writer, app: 'test', instance: 't-1', logger: silent });
    const callSid = newCallSid();
    await tl.record(callSid, 'stream.started', {}, { ts: 1000 });
    await restartEmpty();
    await tl.record(callSid, 'caller.speech_started', { audio_start_ms: 10 }, { ts: 2000 });
    await tl.record(callSid, 'barge_in', { item_id: 'item_1' }, { ts: 2100 });
    expect(tl.buffered, 'kept in memory while Redis is down').to.equal(2);
    await comeBack();
    // Written right after Redis is back: it must land behind the kept entries, not before them.
    await tl.record(callSid, 'call.ended', { end_reason: 'twilio_stop' }, { ts: 3000 });

    await waitFor(async () => (await readTimeline(reader, callSid)).length === 3, {
      timeoutMs: 5000,
      message: 'kept entries written',
    });
    const entries = await readTimeline(reader, callSid);
    expect(entries.map((e) => [e.event, e.ts])).to.deep.equal([
      ['caller.speech_started', 2000],
      ['barge_in', 2100],
      ['call.ended', 3000],
    ]);
    expect(entries[1]!.fields.item_id).to.equal('item_1');
    expect(tl.buffered).to.equal(0);
    // The restarted Redis had no key for this timeline: the flush gave the new one its TTL again.
    expect(await reader.ttl(callKeys.timeline(callSid))).to.be.greaterThan(0);
  });

  it('drops the oldest entries past its bound and says how many on each call timeline', async () => {
    let lost = 0;
    const observer = { buffered: () => undefined, lost: (count: number) => (lost += count) };
    const tl = new Timeline({
      redis: writer,
      app: 'test',
      instance: 't-1',
      logger: silent,
      outageBufferMax: 3,
      observer,
    });
    const [a, b] = [newCallSid(), newCallSid()];
    await restartEmpty();
    await tl.record(a, 'caller.speech_started', {}, { ts: 1 });
    await tl.record(a, 'barge_in', {}, { ts: 2 });
    await tl.record(b, 'caller.speech_started', {}, { ts: 3 });
    await tl.record(a, 'tool.called', {}, { ts: 4 });
    await tl.record(b, 'call.ended', {}, { ts: 5 });
    expect(tl.buffered).to.equal(3);
    expect(lost, 'counted for the metric as they are dropped').to.equal(2);
    await comeBack();

    await waitFor(async () => (await readTimeline(reader, a)).some((e) => e.event === 'timeline.lost'), {
      timeoutMs: 5000,
      message: 'timeline.lost on call a',
    });
    const timelineA = await readTimeline(reader, a);
    expect(timelineA.map((e) => e.event)).to.deep.equal(['tool.called', 'timeline.lost']);
    expect(timelineA[1]!.fields.lost).to.equal('2');
    const timelineB = await readTimeline(reader, b);
    expect(
      timelineB.map((e) => e.event),
      'nothing of call b was dropped',
    ).to.deep.equal(['caller.speech_started', 'call.ended']);
  });
});
