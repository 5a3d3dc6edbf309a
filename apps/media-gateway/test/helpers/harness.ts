/**
 * A gateway on port 0 with its own Redis namespace and CallSids, against the
 * real Redis and the `voice_test` Postgres database, a TestBridge registered
 * in that namespace before the gateway starts (so start() links to it), plus
 * what the webhook would have left for a call (token, meta, calls row).
 * Everything it creates is removed by cleanup().
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import {
  createCallRepository,
  prepareTestDatabase,
  seedDemoBusiness,
  uniqueCallSid,
  DEMO_BUSINESS_ID,
} from '@voice/db';
import type { Call, TestDatabase } from '@voice/db';
import type { GatewayRecord } from '@voice/media-link';
import { callKeys, decodeClaim, readTimeline, sharedKeys, writeCallMeta } from '@voice/redis';
import type { ClaimEntry, SharedKeys, TimelineEntry, TimelineEventName } from '@voice/redis';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { loadGatewayConfig } from '../../src/config.js';
import type { GatewayConfig } from '../../src/config.js';
import { createMediaGateway } from '../../src/gateway.js';
import type { MediaGateway } from '../../src/gateway.js';
import { TEST_LINK_SECRET, TestBridge } from './test-bridge.js';
import type { TestBridgeOptions } from './test-bridge.js';
import { AUTH_TOKEN, PUBLIC_STREAM_URL, TwilioStreamClient } from './twilio-stream-client.js';
import type { ConnectOptions } from './twilio-stream-client.js';
import { waitFor } from './wait-for.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Short enough that a bridge started mid-test is dialed at once; the TestBridge reports every 200 ms. */
const GATEWAY_TEST_ENV = {
  REGISTRY_POLL_MS: '100',
  DRAIN_TIMEOUT_MS: '200',
} as const;

/** How the harness's first TestBridge behaves (see TestBridgeOptions). */
export type BridgeSetup = Omit<TestBridgeOptions, 'redisUrl' | 'namespace'>;

export interface TestCall {
  callSid: string;
  token: string;
}

export class GatewayHarness {
  readonly keys: SharedKeys;
  private readonly callSids = new Set<string>();
  private readonly clients: TwilioStreamClient[] = [];
  private readonly bridges: TestBridge[];

  private constructor(
    readonly gateway: MediaGateway,
    readonly config: GatewayConfig,
    /** The bridge registered before the gateway started. */
    readonly bridge: TestBridge,
    readonly redis: Redis,
    readonly knex: Knex,
  ) {
    this.keys = sharedKeys(config.namespace);
    this.bridges = [bridge];
  }

  static async start(
    knex: Knex,
    databaseUrl: string,
    env: Record<string, string> = {},
    bridgeSetup: BridgeSetup = {},
  ): Promise<GatewayHarness> {
    const suffix = randomUUID().slice(0, 8);
    const config = loadGatewayConfig({
      GATEWAY_PORT: '0',
      REDIS_URL,
      DATABASE_URL: databaseUrl,
      REDIS_NAMESPACE: `test-gw-${suffix}`,
      PUBLIC_STREAM_URL,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      MEDIA_LINK_SECRET: TEST_LINK_SECRET,
      INSTANCE_ID: `test-gw-${suffix}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...GATEWAY_TEST_ENV,
      ...env,
    });
    // Registered first, so the gateway's start() finds it and links to it before taking calls.
    const bridge = await TestBridge.start({ redisUrl: REDIS_URL, namespace: config.namespace, ...bridgeSetup });
    const gateway = createMediaGateway(config);
    try {
      await gateway.start();
    } catch (err) {
      await bridge.stop();
      throw err;
    }
    return new GatewayHarness(gateway, config, bridge, new Redis(REDIS_URL), knex);
  }

  get port(): number {
    return this.gateway.port;
  }

  get calls() {
    return createCallRepository(this.knex);
  }

  /** Another bridge in this namespace (stopped in cleanup), linked to the gateway when this resolves. */
  async addBridge(setup: BridgeSetup): Promise<TestBridge> {
    const bridge = await TestBridge.start({ redisUrl: REDIS_URL, namespace: this.config.namespace, ...setup });
    this.bridges.push(bridge);
    await bridge.waitForLinkFrom(this.config.instanceId);
    return bridge;
  }

  /** A CallSid this test owns (its keys and row are deleted in cleanup). */
  newCallSid(): string {
    const callSid = uniqueCallSid();
    this.callSids.add(callSid);
    return callSid;
  }

  /**
   * What the webhook leaves for a call before Twilio opens the stream: token, meta, calls row;
   * with `owner`, the owner key a warm bridge sets when it takes the call while the phone rings.
   */
  async answeredCall(opts: { row?: boolean; owner?: string } = {}): Promise<TestCall> {
    const callSid = this.newCallSid();
    const token = randomBytes(16).toString('hex');
    await this.redis.set(callKeys.token(callSid), token, 'EX', 600);
    const meta = {
      callSid,
      businessId: DEMO_BUSINESS_ID,
      direction: 'inbound',
      from: '+15551230000',
      to: '+15005550006',
    } as const;
    await writeCallMeta(this.redis, { ...meta, receivedAt: Date.now() });
    if (opts.owner) await this.redis.set(callKeys.owner(callSid), opts.owner, 'EX', 600);
    if (opts.row) {
      await seedDemoBusiness(this.knex);
      await this.calls.recordReceived({ ...meta, status: 'received' });
    }
    return { callSid, token };
  }

  async connect(callSid: string, opts: ConnectOptions = {}): Promise<TwilioStreamClient> {
    const client = await TwilioStreamClient.connect(this.port, callSid, opts);
    this.clients.push(client);
    return client;
  }

  /** Connects and sends connected + START with the call's token; waits for nothing. */
  async startStream(call: TestCall, opts: ConnectOptions = {}): Promise<TwilioStreamClient> {
    const client = await this.connect(call.callSid, opts);
    client.connected();
    client.start({ [STREAM_PARAMETERS.callToken]: call.token, businessId: DEMO_BUSINESS_ID });
    return client;
  }

  /**
   * Starts the stream and waits until the call is attached: the bridge has the attach and the
   * gateway has noted `link.attached` (so what the test does next happens after it).
   */
  async startedStream(call: TestCall, opts: ConnectOptions = {}): Promise<TwilioStreamClient> {
    const client = await this.startStream(call, opts);
    await this.waitForInbound(call.callSid, (records) => records.some((r) => r.t === 'attach'));
    await this.waitForEvent(call.callSid, 'link.attached');
    return client;
  }

  /** What `bridge` (the harness's own by default) received over its link for the call, in order. */
  inbound(callSid: string, bridge: TestBridge = this.bridge): GatewayRecord[] {
    return bridge.records(callSid);
  }

  async waitForInbound(
    callSid: string,
    done: (records: GatewayRecord[]) => boolean,
    bridge: TestBridge = this.bridge,
  ): Promise<GatewayRecord[]> {
    return waitFor(`records for ${callSid} at ${bridge.instanceId}`, () => {
      const records = bridge.records(callSid);
      return done(records) ? records : undefined;
    });
  }

  async timeline(callSid: string): Promise<TimelineEntry[]> {
    return readTimeline(this.redis, callSid);
  }

  async timelineEvents(callSid: string): Promise<string[]> {
    return (await this.timeline(callSid)).map((e) => e.event);
  }

  /** Waits for the `count`th `event` on the call's timeline and returns it. */
  async waitForEvent(callSid: string, event: TimelineEventName, count = 1): Promise<TimelineEntry> {
    return waitFor(
      `${event} #${count} on the timeline of ${callSid}`,
      async () => (await this.timeline(callSid)).filter((e) => e.event === event)[count - 1],
    );
  }

  /** The claim stream, as the bridges read it. */
  async claims(): Promise<ClaimEntry[]> {
    const raw = await this.redis.xrange(this.keys.callClaims, '-', '+');
    return raw.map(([id, fields]) => decodeClaim(id, fields));
  }

  async ghosts(): Promise<Array<Record<string, string>>> {
    const raw = await this.redis.xrange(this.keys.ghosts, '-', '+');
    return raw.map(([, fields]) => {
      const out: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
      return out;
    });
  }

  async callRow(callSid: string): Promise<Call | null> {
    return this.calls.findByCallSid(callSid);
  }

  /** Sum of a metric's samples matching `labels` (all samples when omitted). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.gateway.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const { values } = await metric.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
      .reduce((sum, v) => sum + v.value, 0);
  }

  async cleanup(): Promise<void> {
    for (const client of this.clients) client.terminate();
    try {
      // The gateway first: its calls end with a stop to their bridge, not as orphans of a vanished one.
      await this.gateway.stop();
    } finally {
      for (const bridge of this.bridges) await bridge.stop();
    }
    const keys: string[] = [this.keys.callClaims, this.keys.ghosts, this.keys.bridges];
    for (const callSid of this.callSids) keys.push(...Object.values(callKeys).map((key) => key(callSid)));
    await this.redis.del(...keys);
    await this.knex('calls')
      .whereIn('call_sid', [...this.callSids])
      .delete();
    await this.redis.quit();
  }
}

/**
 * The hooks every gateway test file needs: the test database for the file,
 * and the gateway (with its TestBridge) a test started, cleaned up after each test.
 */
export function useGatewayHarness(): {
  start(env?: Record<string, string>, bridge?: BridgeSetup): Promise<GatewayHarness>;
} {
  let db: TestDatabase;
  let started: GatewayHarness | undefined;
  before(async () => {
    db = await prepareTestDatabase();
  });
  afterEach(async () => {
    await started?.cleanup();
    started = undefined;
  });
  after(async () => {
    await db.knex.destroy();
  });
  return {
    async start(env = {}, bridge = {}) {
      started = await GatewayHarness.start(db.knex, db.url, env, bridge);
      return started;
    },
  };
}
