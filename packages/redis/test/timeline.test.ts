/**
 * The call timeline against real Redis (REDIS_URL, or the cluster at
 * REDIS_CLUSTER_NODES): one XADD per event, and the TTL set once per call by
 * each writing process instead of on every event.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createLogger, type Logger } from '@voice/logging';
import {
  TIMELINE_DEFAULTS,
  Timeline,
  callKeys,
  isCluster,
  quitRedis,
  readTimeline,
  type RedisClient,
} from '../src/index.js';
import { RecentSet } from '../src/recent-set.js';
import { waitFor } from '@voice/testkit';
import { assertionRedis } from '../../../test/support/redis.js';

const silent = createLogger({ service: 'test', instance: 'timeline', level: 'silent' });
const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

describe('redis: the call timeline', () => {
  let redis: RedisClient;
  const written: string[] = [];

  before(() => {
    redis = assertionRedis();
  });
  afterEach(async () => {
    for (const callSid of written.splice(0)) await redis.del(callKeys.timeline(callSid));
  });
  after(async () => {
    await quitRedis(redis);
  });

  function timeline(options: { expiredCallsRemembered?: number; logger?: Logger } = {}): Timeline {
    return new Timeline({ redis, app: 'test', instance: 'test-1', logger: silent, ...options });
  }
  function call(): string {
    const callSid = newCallSid();
    written.push(callSid);
    return callSid;
  }
  const ttl = (callSid: string) => redis.ttl(callKeys.timeline(callSid));
  /** What a TTL looks like after something removed it: the next EXPIRE (if any) shows. */
  const dropTtl = (callSid: string) => redis.persist(callKeys.timeline(callSid));

  it('writes one entry per event, in order, with flat string fields', async () => {
    const tl = timeline();
    const callSid = call();
    await tl.record(callSid, 'webhook.received', { from: '+15550001', direction: 'inbound' }, { ts: 1000 });
    await tl.record(callSid, 'openai.connected', { attempt: 1, ms: 12.345, skipped: undefined }, { ts: 1012 });
    await tl.record(callSid, 'call.ended', { is_ghost: false, end_reason: null }, { ts: 1500 });

    const entries = await readTimeline(redis, callSid);
    expect(entries.map((e) => e.event)).to.deep.equal(['webhook.received', 'openai.connected', 'call.ended']);
    expect(entries.map((e) => e.ts)).to.deep.equal([1000, 1012, 1500]);
    expect(entries[0]).to.include({ app: 'test', instance: 'test-1' });
    expect(entries[0]!.fields).to.deep.equal({ from: '+15550001', direction: 'inbound' });
    expect(entries[1]!.fields).to.deep.equal({ attempt: '1', ms: '12.3' });
    expect(entries[2]!.fields).to.deep.equal({ is_ghost: 'false' });
  });

  it('settled() waits for a write nobody awaited (a service awaits it before quitting Redis)', async function () {
    // CLIENT PAUSE holds one node's writes; a cluster's other nodes would not wait.
    if (isCluster(redis)) this.skip();
    const tl = timeline();
    const callSid = call();
    const PAUSE_MS = 300;
    await redis.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
    const started = Date.now();
    void tl.record(callSid, 'bridge.released', { reason: 'handed_over' });
    await tl.settled();
    expect(Date.now() - started, 'settled waited for the held write').to.be.at.least(PAUSE_MS - 100);
    expect((await readTimeline(redis, callSid)).map((e) => e.event)).to.deep.equal(['bridge.released']);
  });

  it('gives a call its TTL on the first write only, and again from another process', async () => {
    const tl = timeline();
    const callSid = call();
    await tl.record(callSid, 'webhook.received');
    expect(await ttl(callSid)).to.be.within(1, TIMELINE_DEFAULTS.ttlSeconds);

    await dropTtl(callSid);
    await tl.record(callSid, 'prebuild.enqueued');
    expect(await ttl(callSid), 'no second EXPIRE from the same process').to.equal(-1);

    await timeline().record(callSid, 'stream.started');
    expect(await ttl(callSid), 'a new writer sets it once').to.be.within(1, TIMELINE_DEFAULTS.ttlSeconds);
  });

  it('sends one EXPIRE for concurrent first events of a call', async () => {
    const tl = timeline();
    const callSid = call();
    await Promise.all([
      tl.record(callSid, 'webhook.received'),
      tl.record(callSid, 'prebuild.enqueued'),
      tl.record(callSid, 'ws.accepted'),
    ]);
    expect(await readTimeline(redis, callSid)).to.have.length(3);
    expect(await ttl(callSid)).to.be.greaterThan(0);
    await dropTtl(callSid);
    await tl.record(callSid, 'stream.started');
    expect(await ttl(callSid)).to.equal(-1);
  });

  it('remembers a bounded number of calls: a forgotten one gets its TTL set again', async () => {
    const tl = timeline({ expiredCallsRemembered: 2 });
    const [a, b, c] = [call(), call(), call()];
    for (const callSid of [a, b, c]) await tl.record(callSid, 'webhook.received');
    await Promise.all([dropTtl(a), dropTtl(c)]);
    await tl.record(a, 'prebuild.enqueued');
    await tl.record(c, 'prebuild.enqueued');
    expect(await ttl(a), 'a was forgotten when c came').to.be.greaterThan(0);
    expect(await ttl(c), 'c is remembered').to.equal(-1);
  });

  it('keeps a failed write instead of throwing, writes it before the next entry, and sets the TTL then', async () => {
    const warnings: string[] = [];
    const logger = createLogger({ service: 'test', instance: 'timeline', level: 'silent' });
    logger.warn = ((message: string) => {
      warnings.push(message);
      return logger;
    }) as Logger['warn'];
    // Redis refuses XADDs for a moment (a blip on a connection that still says ready), then works again.
    let refuse = true;
    const flaky = {
      status: 'ready',
      on: () => flaky,
      xadd: (...args: Parameters<RedisClient['xadd']>) =>
        refuse ? Promise.reject(new Error('connection lost')) : redis.xadd(...args),
      expire: (key: string, seconds: number) => redis.expire(key, seconds),
    } as unknown as RedisClient;
    const tl = new Timeline({ redis: flaky, app: 'test', instance: 'test-1', logger });
    const callSid = call();

    await tl.record(callSid, 'webhook.received', {}, { logger });
    expect(warnings).to.include('timeline write failed; kept until redis is back');
    expect(tl.buffered).to.equal(1);
    refuse = false;
    await tl.record(callSid, 'prebuild.enqueued', {}, { logger });
    await waitFor(() => tl.buffered === 0, { timeoutMs: 5000, message: 'kept entries written' });
    expect((await readTimeline(redis, callSid)).map((e) => e.event)).to.deep.equal([
      'webhook.received',
      'prebuild.enqueued',
    ]);
    expect(await ttl(callSid), 'the failed first write did not count as the TTL being set').to.be.greaterThan(0);
  });
});

describe('redis: RecentSet', () => {
  it('forgets the oldest member beyond its capacity', () => {
    const set = new RecentSet<string>(2);
    set.add('a');
    set.add('b');
    set.add('a'); // already there: does not refresh, does not grow
    set.add('c');
    expect([set.has('a'), set.has('b'), set.has('c'), set.size]).to.deep.equal([false, true, true, 2]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentSet(0)).to.throw(RangeError);
  });
});
