/**
 * A gateway on port 0 with its own Redis namespace and CallSids, against the
 * real Redis and the `voice_test` Postgres database, plus what the webhook
 * would have left for a call (token, meta, calls row). Everything it creates
 * is removed by cleanup().
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { createCallRepository, prepareTestDatabase, seedDemoBusiness, uniqueCallSid, DEMO_BUSINESS_ID } from '@voice/db';
import type { Call, TestDatabase } from '@voice/db';
import { callKeys, decodeClaim, decodeInbound, readTimeline, sharedKeys, writeCallMeta } from '@voice/redis';
import type { ClaimEntry, InboundEntry, SharedKeys, TimelineEntry } from '@voice/redis';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { loadGatewayConfig } from '../../src/config.js';
import type { GatewayConfig } from '../../src/config.js';
import { createMediaGateway } from '../../src/gateway.js';
import type { MediaGateway } from '../../src/gateway.js';
import { AUTH_TOKEN, PUBLIC_STREAM_URL, TwilioStreamClient } from './twilio-stream-client.js';
import type { ConnectOptions } from './twilio-stream-client.js';
import { waitFor } from './wait-for.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestCall {
  callSid: string;
  token: string;
}

export class GatewayHarness {
  readonly keys: SharedKeys;
  private readonly callSids = new Set<string>();
  private readonly clients: TwilioStreamClient[] = [];

  private constructor(
    readonly gateway: MediaGateway,
    readonly config: GatewayConfig,
    readonly redis: Redis,
    readonly knex: Knex,
  ) {
    this.keys = sharedKeys(config.namespace);
  }

  static async start(knex: Knex, databaseUrl: string, env: Record<string, string> = {}): Promise<GatewayHarness> {
    const config = loadGatewayConfig({
      GATEWAY_PORT: '0',
      REDIS_URL,
      DATABASE_URL: databaseUrl,
      REDIS_NAMESPACE: `test-gw-${randomUUID().slice(0, 8)}`,
      PUBLIC_STREAM_URL,
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      DRAIN_TIMEOUT_MS: '200',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      ...env,
    });
    const gateway = createMediaGateway(config);
    await gateway.start();
    return new GatewayHarness(gateway, config, new Redis(REDIS_URL), knex);
  }

  get port(): number {
    return this.gateway.port;
  }

  get calls() {
    return createCallRepository(this.knex);
  }

  /** A CallSid this test owns (its keys and row are deleted in cleanup). */
  newCallSid(): string {
    const callSid = uniqueCallSid();
    this.callSids.add(callSid);
    return callSid;
  }

  /** What the webhook leaves for a call before Twilio opens the stream: token, meta, calls row. */
  async answeredCall(opts: { row?: boolean } = {}): Promise<TestCall> {
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

  /** Connects, sends connected + START with the call's token, and waits for the start entry. */
  async startedStream(call: TestCall, opts: ConnectOptions = {}): Promise<TwilioStreamClient> {
    const client = await this.connect(call.callSid, opts);
    client.connected();
    client.start({ [STREAM_PARAMETERS.callToken]: call.token, businessId: DEMO_BUSINESS_ID });
    await this.waitForInbound(call.callSid, (entries) => entries.some((e) => e.kind === 'start'));
    return client;
  }

  async inbound(callSid: string): Promise<InboundEntry[]> {
    const raw = await this.redis.xrange(callKeys.inbound(callSid), '-', '+');
    return raw.map(([id, fields]) => decodeInbound(id, fields));
  }

  async waitForInbound(callSid: string, done: (entries: InboundEntry[]) => boolean): Promise<InboundEntry[]> {
    return waitFor(`inbound entries of ${callSid}`, async () => {
      const entries = await this.inbound(callSid);
      return done(entries) ? entries : undefined;
    });
  }

  async timeline(callSid: string): Promise<TimelineEntry[]> {
    return readTimeline(this.redis, callSid);
  }

  async timelineEvents(callSid: string): Promise<string[]> {
    return (await this.timeline(callSid)).map((e) => e.event);
  }

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
    await this.gateway.stop();
    const keys: string[] = [this.keys.callClaims, this.keys.ghosts];
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
 * and the gateway a test started, cleaned up after each test.
 */
export function useGatewayHarness(): { start(env?: Record<string, string>): Promise<GatewayHarness> } {
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
    async start(env = {}) {
      started = await GatewayHarness.start(db.knex, db.url, env);
      return started;
    },
  };
}
