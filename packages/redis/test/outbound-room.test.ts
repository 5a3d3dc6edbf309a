/**
 * The outbound room check against real Redis (REDIS_URL, or the cluster at
 * REDIS_CLUSTER_NODES): POST /calls places a call only into room the live
 * bridges reported, less the calls already placed that no bridge has taken.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  BridgeRegistry,
  OutboundRoom,
  quitRedis,
  sharedKeys,
  type BridgeInfo,
  type RedisClient,
} from '../src/index.js';
import { assertionRedis } from '../../../test/support/redis.js';

const STALE_MS = 3000;
const MAX_AGE_MS = 60_000;
const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;

describe('redis: room for outbound calls', () => {
  let redis: RedisClient;
  let keys: ReturnType<typeof sharedKeys>;
  let registry: BridgeRegistry;
  let room: OutboundRoom;

  before(() => {
    redis = assertionRedis();
  });
  beforeEach(() => {
    keys = sharedKeys(`room-${randomBytes(4).toString('hex')}`);
    registry = new BridgeRegistry(redis, keys, STALE_MS);
    room = new OutboundRoom(redis, keys, { registryStaleMs: STALE_MS, maxAgeMs: MAX_AGE_MS });
  });
  afterEach(async () => {
    await redis.del(keys.bridges, keys.outboundReserved, keys.outboundEnded);
  });
  after(async () => {
    await quitRedis(redis);
  });

  function bridge(instance: string, info: Partial<BridgeInfo>): Promise<void> {
    const base = { linkHost: 'h', linkPort: 7000, load: 0, capacity: 10, draining: false, at: Date.now() };
    return registry.publish({ instance, ...base, ...info });
  }

  it('refuses when no bridge is registered', async () => {
    const reservation = await room.reserve();
    expect(reservation.check).to.deep.equal({ admitted: false, spare: 0, reserved: 0 });
    expect(await room.reservedCount()).to.equal(0);
  });

  it('counts only live, non-draining bridges, and each reservation takes a place', async () => {
    await bridge('b1', { capacity: 3, load: 1 });
    await bridge('b2', { capacity: 5, load: 5 });
    await bridge('draining', { capacity: 9, load: 0, draining: true });
    await bridge('dead', { capacity: 9, load: 0, at: Date.now() - STALE_MS - 1000 });
    const first = await room.reserve();
    const second = await room.reserve();
    const third = await room.reserve();
    expect(first.check).to.deep.equal({ admitted: true, spare: 2, reserved: 0 });
    expect(second.check).to.deep.equal({ admitted: true, spare: 2, reserved: 1 });
    expect(third.check).to.deep.equal({ admitted: false, spare: 2, reserved: 2 });
    expect(await room.reservedCount()).to.equal(2);
  });

  it('a place given back, or taken by a bridge under its CallSid, is free again', async () => {
    await bridge('b1', { capacity: 2 });
    const unplaced = await room.reserve();
    const placed = await room.reserve();
    expect((await room.reserve()).check.admitted).to.equal(false);

    await unplaced.release();
    const callSid = newCallSid();
    await placed.placed(callSid);
    expect(await redis.zscore(keys.outboundReserved, callSid)).to.not.equal(null);
    expect(await room.reservedCount()).to.equal(1);

    await room.taken(callSid);
    expect(await room.reservedCount()).to.equal(0);
    expect((await room.reserve()).check).to.deep.include({ admitted: true, reserved: 0 });
  });

  it('a call that ended before its place was named by CallSid gives the place back when it is named', async () => {
    await bridge('b1', { capacity: 1 });
    const reservation = await room.reserve();
    const callSid = newCallSid();
    // Twilio's final status callback (a number it fails at once) beats POST /calls's own bookkeeping.
    await room.taken(callSid);
    await reservation.placed(callSid);
    expect(await room.reservedCount()).to.equal(0);
    expect(await redis.zscore(keys.outboundEnded, callSid), 'the note is used up').to.equal(null);
    expect((await room.reserve()).check).to.deep.equal({ admitted: true, spare: 1, reserved: 0 });
    expect(await redis.pttl(keys.outboundEnded)).to.be.lessThan(0); // deleted with its last member
  });

  it("the report of a bridge that took the call moves its place from reserved to that bridge's load", async () => {
    await bridge('b1', { capacity: 2, load: 0 });
    const callSid = newCallSid();
    await (await room.reserve()).placed(callSid);
    await (await room.reserve()).placed(newCallSid());
    await bridge('b1', { capacity: 2, load: 1 }); // loaded, but not yet reported as taken: counted twice, so full
    expect((await room.reserve()).check).to.deep.equal({ admitted: false, spare: 1, reserved: 2 });

    await registry.publish(
      { instance: 'b1', linkHost: 'h', linkPort: 7000, load: 1, capacity: 2, draining: false, at: Date.now() },
      [callSid],
    );
    expect(await redis.zscore(keys.outboundReserved, callSid)).to.equal(null);
    expect((await room.reserve()).check).to.deep.equal({ admitted: false, spare: 1, reserved: 1 });
  });

  it('drops reservations older than the longest ring, so a lost callback cannot hold room', async () => {
    await bridge('b1', { capacity: 1 });
    const now = Date.now();
    await (await room.reserve(now - MAX_AGE_MS - 1)).placed(newCallSid());
    const later = await room.reserve(now);
    expect(later.check).to.deep.equal({ admitted: true, spare: 1, reserved: 0 });
  });

  it('requests at once never take more places than there are', async () => {
    await bridge('b1', { capacity: 4, load: 1 });
    const checks = await Promise.all(Array.from({ length: 12 }, () => room.reserve()));
    expect(checks.filter((r) => r.check.admitted)).to.have.length(3);
    expect(await room.reservedCount()).to.equal(3);
  });

  it('skips a malformed registry field instead of failing the check', async () => {
    await redis.hset(keys.bridges, 'garbage', 'not json', 'partial', JSON.stringify({ at: Date.now() }));
    await bridge('b1', { capacity: 1 });
    expect((await room.reserve()).check).to.deep.equal({ admitted: true, spare: 1, reserved: 0 });
  });
});
