/**
 * @voice/redis on a real Redis Cluster (3 masters, 3 replicas, started for
 * this file by scripts/lib/redis-cluster.ts): createRedis gives a Cluster,
 * per-call keys of different calls spread over masters while one call's keys
 * stay together, timelines work, and the claim stream's consumer group works
 * on `{ns}:calls:claims`, in the same slot as the namespace's other keys.
 * Skipped, saying why, when redis-server is not on PATH.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createLogger } from '@voice/logging';
import {
  Timeline,
  callKeys,
  createRedis,
  decodeClaim,
  encodeClaim,
  isCluster,
  quitRedis,
  readTimeline,
  sharedKeys,
  transientCallKeys,
  type RedisClient,
  type RedisEndpoint,
} from '../src/index.js';
import type { RawStreamEntry } from '../src/stream-entry.js';
import {
  missingRedisTools,
  startLocalRedisCluster,
  type LocalRedisCluster,
} from '../../../scripts/lib/redis-cluster.js';
import { addressOf, keySlot, masterForKey } from '../../../scripts/lib/redis-cluster-probe.js';

const logger = createLogger({ service: 'test', instance: 'redis-cluster', level: 'silent' });
const newCallSid = () => `CA${randomBytes(16).toString('hex')}`;
/** Starting six redis-servers and joining them takes a few seconds. */
const CLUSTER_START_TIMEOUT_MS = 60_000;
/** Random CallSids land on one of 3 masters; this many tries find two on different masters with certainty in practice. */
const MAX_CALLSID_TRIES = 50;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** After the close the process has nothing left but a stray refresh round (one interval) to finish. */
const EXIT_WITHIN_MS = 15_000;
/** Short block so a missed entry fails the test quickly instead of hanging it. */
const READ_BLOCK_MS = 2000;

describe('redis: on a Redis Cluster', function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS);
  let cluster: LocalRedisCluster | undefined;
  let endpoint: RedisEndpoint;
  const clients: RedisClient[] = [];

  before(async function () {
    const missing = missingRedisTools();
    if (missing.length > 0) {
      console.warn(`    skipped: ${missing.join(' and ')} not on PATH (install Redis to run the cluster tests)`);
      this.skip();
    }
    cluster = await startLocalRedisCluster();
    endpoint = { url: 'redis://unused.invalid:6379', clusterNodes: cluster.addresses };
  });
  after(async () => {
    await Promise.all(clients.map((c) => quitRedis(c)));
    await cluster?.stop();
  });

  function connect(role: 'command' | 'blocking'): RedisClient {
    const client = createRedis({ endpoint, name: `test-${role}`, role, logger });
    clients.push(client);
    return client;
  }

  /** Two calls whose keys live on different masters. */
  async function callsOnTwoMasters(): Promise<[string, string]> {
    const first = newCallSid();
    const firstMaster = addressOf(await masterForKey(cluster!.addresses, callKeys.timeline(first)));
    for (let i = 0; i < MAX_CALLSID_TRIES; i++) {
      const other = newCallSid();
      if (addressOf(await masterForKey(cluster!.addresses, callKeys.timeline(other))) !== firstMaster)
        return [first, other];
    }
    throw new Error(`no two of ${MAX_CALLSID_TRIES} CallSids hashed to different masters`);
  }

  it('createRedis with cluster nodes gives a Cluster that reads and writes keys on every master', async () => {
    const redis = connect('command');
    expect(isCluster(redis)).to.equal(true);
    const [a, b] = await callsOnTwoMasters();
    await Promise.all([
      redis.set(callKeys.token(a), 'token-a', 'EX', 60),
      redis.set(callKeys.token(b), 'token-b', 'EX', 60),
    ]);
    expect([await redis.get(callKeys.token(a)), await redis.get(callKeys.token(b))]).to.deep.equal([
      'token-a',
      'token-b',
    ]);
    expect((await cluster!.masters()).length).to.equal(3);
    // One call's keys share a slot, so multi-key commands on them are legal on a cluster.
    await redis.set(callKeys.meta(a), 'x', 'EX', 60);
    expect(await redis.del(...transientCallKeys(a))).to.equal(2);
    await redis.del(callKeys.token(b));
  });

  it('records and reads timelines of calls on different masters, each with its TTL', async () => {
    const redis = connect('command');
    const timeline = new Timeline({ redis, app: 'test', instance: 'test-1', logger });
    const [a, b] = await callsOnTwoMasters();
    await Promise.all([
      timeline.record(a, 'webhook.received', { from: '+15550001' }),
      timeline.record(b, 'webhook.received', { from: '+15550002' }),
    ]);
    await Promise.all([
      timeline.record(a, 'call.ended', { end_reason: 'caller' }),
      timeline.record(b, 'call.ended', { end_reason: 'twilio_stop' }),
    ]);

    const [ta, tb] = await Promise.all([readTimeline(redis, a), readTimeline(redis, b)]);
    expect(ta.map((e) => [e.event, e.fields])).to.deep.equal([
      ['webhook.received', { from: '+15550001' }],
      ['call.ended', { end_reason: 'caller' }],
    ]);
    expect(tb.map((e) => e.event)).to.deep.equal(['webhook.received', 'call.ended']);
    expect(await redis.ttl(callKeys.timeline(a))).to.be.greaterThan(0);
    expect(await redis.ttl(callKeys.timeline(b))).to.be.greaterThan(0);
  });

  it('keeps every shared key of a namespace in one slot (BullMQ scripts and the claim stream need it)', async () => {
    const ns = `test-${randomBytes(4).toString('hex')}`;
    const keys = sharedKeys(ns);
    const slots = await Promise.all(
      [
        keys.callClaims,
        keys.ghosts,
        keys.bridges,
        `${keys.bullPrefix}:prebuild:wait`,
        `${keys.bullPrefix}:stream-watchdog:delayed`,
      ].map((k) => keySlot(cluster!.addresses, k)),
    );
    expect(new Set(slots).size).to.equal(1);
  });

  it('lets a process exit that closed its cluster connection while a slots refresh was under way', async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    const nodes = JSON.stringify(cluster!.addresses.map(({ host, port }) => ({ host, port })));
    const pids = JSON.stringify(cluster!.control.nodes.map((n) => n.pid));
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(FIXTURES, 'close-during-slot-refresh.ts'), nodes, pids],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const gaveUp = new Promise<'held open'>((resolve) =>
      setTimeout(() => resolve('held open'), EXIT_WITHIN_MS).unref(),
    );
    const outcome = await Promise.race([exited, gaveUp]);
    if (outcome === 'held open') child.kill('SIGKILL');
    expect(out, 'the fixture closed its connection').to.include('closed');
    expect(outcome, `exit within ${EXIT_WITHIN_MS} ms of the close`).to.equal(0);
  });

  it('round-trips a claim through the bridges consumer group on {ns}:calls:claims', async () => {
    const commands = connect('command');
    const blocking = connect('blocking');
    const { callClaims, bridgeGroup } = sharedKeys(`test-${randomBytes(4).toString('hex')}`);
    await commands.xgroup('CREATE', callClaims, bridgeGroup, '0', 'MKSTREAM');
    const claim = { callSid: newCallSid(), reason: 'started' as const, at: Date.now(), gateway: 'gw-1' };

    // '>' delivers entries no consumer has seen, whether written before or during the blocked read.
    const read = blocking.xreadgroup(
      'GROUP',
      bridgeGroup,
      'bridge-1',
      'COUNT',
      10,
      'BLOCK',
      READ_BLOCK_MS,
      'STREAMS',
      callClaims,
      '>',
    ) as Promise<[string, RawStreamEntry[]][] | null>;
    await commands.xadd(callClaims, '*', ...encodeClaim(claim));
    const result = await read;
    const entries = result?.[0]?.[1] ?? [];
    expect(entries).to.have.length(1);
    const [id, fields] = entries[0]!;
    expect(decodeClaim(id, fields)).to.deep.include(claim);

    expect(
      ((await commands.xpending(callClaims, bridgeGroup)) as [number, ...unknown[]])[0],
      'pending before ack',
    ).to.equal(1);
    expect(await commands.xack(callClaims, bridgeGroup, id)).to.equal(1);
    expect(
      ((await commands.xpending(callClaims, bridgeGroup)) as [number, ...unknown[]])[0],
      'pending after ack',
    ).to.equal(0);
  });
});
