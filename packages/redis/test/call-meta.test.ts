/**
 * A call's meta against real Redis (REDIS_URL, or the cluster at REDIS_CLUSTER_NODES): what the
 * webhook writes, what the bridge adds once it greets, and nothing left behind once it is gone.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  callKeys,
  quitRedis,
  readCallMeta,
  recordGreetingPath,
  writeCallMeta,
  type RedisClient,
} from '../src/index.js';
import { assertionRedis } from '../../../test/support/redis.js';

const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

describe('redis: call meta', () => {
  let redis: RedisClient;
  before(() => {
    redis = assertionRedis();
  });
  after(async () => {
    await quitRedis(redis);
  });

  it('records the greeting path on a live call', async () => {
    const callSid = newCallSid();
    await writeCallMeta(redis, {
      callSid,
      businessId: 'b-1',
      direction: 'inbound',
      from: '+15551230000',
      to: '+15551239999',
      receivedAt: 1_700_000_000_000,
    });
    try {
      expect(await recordGreetingPath(redis, callSid, 'warm')).to.equal(true);
      expect((await readCallMeta(redis, callSid))?.greetingPath).to.equal('warm');
      expect(await redis.ttl(callKeys.meta(callSid))).to.be.greaterThan(0);
    } finally {
      await redis.del(callKeys.meta(callSid));
    }
  });

  it('writes nothing for a call whose meta is already gone: no hash without a TTL is left behind', async () => {
    const callSid = newCallSid();
    expect(await recordGreetingPath(redis, callSid, 'cold')).to.equal(false);
    expect(await redis.exists(callKeys.meta(callSid))).to.equal(0);
  });
});
