/**
 * A realtime bridge as the gateway under test sees one, without a model: the
 * real media link server (port 0, the test secret), an entry in the test
 * namespace's bridge registry refreshed like a heartbeat, and a reader of the
 * claim stream (XREAD BLOCK on its own connection). It answers `started`
 * claims with itself as the owner and `attach` with `attached` (or
 * `refused`), records every gateway record per CallSid, and lets a test send
 * bridge records to a call on the channel the gateway attached it on.
 * Records sent before the call is attached are held and go out right after
 * `attached`, as a warm bridge's greeting does.
 */
import { Redis } from 'ioredis';
import { createLogger } from '@voice/logging';
import type { LogLevel } from '@voice/logging';
import { MediaLinkServer } from '@voice/media-link';
import type { BridgeRecord, BridgeSideLink, GatewayRecord, ToCallerRecord } from '@voice/media-link';
import { BridgeRegistry, decodeClaim, preciseNow, sharedKeys } from '@voice/redis';
import type { ClaimEntry, SharedKeys } from '@voice/redis';
import { waitFor } from './wait-for.js';

/** The MEDIA_LINK_SECRET of every gateway and test bridge in these tests. */
export const TEST_LINK_SECRET = 'test-media-link-secret-0123456789';

export const TEST_BRIDGE_DEFAULTS = {
  instanceId: 'test-bridge',
  capacity: 10,
  /** How often the bridge rewrites its registry entry (a real bridge: HEARTBEAT_MS). */
  reportMs: 200,
  /** XREAD BLOCK on the claim stream; bounds how long stop() waits for the reader. */
  claimBlockMs: 200,
  /** Back-off after a failed claim read, so a broken connection does not spin. */
  claimRetryMs: 50,
} as const;

export interface TestBridgeOptions {
  redisUrl: string;
  namespace: string;
  instanceId?: string;
  /** 0: the registry says this bridge is full, so the gateway must play busy. */
  capacity?: number;
  /** false: claims are read (see `claims`) but not answered until answerClaim(). */
  answerClaims?: boolean;
  /** Set: every attach is answered `refused` with this reason. */
  refuseAttach?: string;
}

export type { ToCallerRecord };

/** A gateway record of the given type. */
export type ReceivedRecord<T extends GatewayRecord['t']> = Extract<GatewayRecord, { t: T }>;

interface CallState {
  records: GatewayRecord[];
  attached: { link: BridgeSideLink; ch: number } | undefined;
  /** The channel the call had here, kept after its stop. */
  lastChannel: { link: BridgeSideLink; ch: number } | undefined;
  held: ToCallerRecord[];
}

export class TestBridge {
  readonly instanceId: string;
  answerClaims: boolean;
  /** Every claim read off the stream, in order. */
  readonly claims: ClaimEntry[] = [];
  /** Audio, marks or dtmf on a channel no attach opened (a gateway bug if ever non-empty). */
  readonly unrouted: GatewayRecord[] = [];
  private readonly capacity: number;
  private readonly keys: SharedKeys;
  private readonly redis: Redis;
  private readonly reader: Redis;
  private readonly registry: BridgeRegistry;
  private readonly server: MediaLinkServer;
  private readonly links = new Map<string, BridgeSideLink>();
  private readonly calls = new Map<string, CallState>();
  /** `${gateway}:${ch}` -> CallSid, for the audio records that carry only a channel. */
  private readonly channels = new Map<string, string>();
  private reportTimer: NodeJS.Timeout | undefined;
  private reporting: Promise<void> | undefined;
  private reading: Promise<void> | undefined;
  private running = false;

  constructor(private readonly options: TestBridgeOptions) {
    this.instanceId = options.instanceId ?? TEST_BRIDGE_DEFAULTS.instanceId;
    this.capacity = options.capacity ?? TEST_BRIDGE_DEFAULTS.capacity;
    this.answerClaims = options.answerClaims ?? true;
    this.keys = sharedKeys(options.namespace);
    this.redis = new Redis(options.redisUrl);
    this.reader = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    // Only publish/remove are used; the stale limit matters to readers.
    this.registry = new BridgeRegistry(this.redis, this.keys, TEST_BRIDGE_DEFAULTS.reportMs * 3);
    const logger = createLogger({
      service: 'test-bridge',
      instance: this.instanceId,
      level: (process.env.TEST_LOG_LEVEL ?? 'silent') as LogLevel,
    });
    this.server = new MediaLinkServer({
      instanceId: this.instanceId,
      secret: TEST_LINK_SECRET,
      host: '127.0.0.1',
      port: 0,
      logger,
      onLink: (link) => this.adopt(link),
    });
  }

  static async start(options: TestBridgeOptions): Promise<TestBridge> {
    const bridge = new TestBridge(options);
    await bridge.start();
    return bridge;
  }

  get port(): number {
    return this.server.port;
  }

  async start(): Promise<void> {
    await this.server.start();
    this.running = true;
    // Claims published from now on: a bridge started mid-test must not answer older ones.
    const [last] = await this.redis.xrevrange(this.keys.callClaims, '+', '-', 'COUNT', 1);
    this.reading = this.readClaims(last?.[0] ?? '0-0');
    await this.report();
    this.reportTimer = setInterval(() => void this.report(), TEST_BRIDGE_DEFAULTS.reportMs);
  }

  /** Leaves the registry, cuts every link (the gateway sees the bridge die) and stops reading claims. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.reportTimer);
    await this.reporting;
    await this.registry.remove(this.instanceId);
    await this.server.stop();
    await this.reading;
    this.reader.disconnect();
    await this.redis.quit();
  }

  /** Closes every link from this side; the bridge stays registered (the gateway may dial it again). */
  closeLinks(): void {
    for (const link of this.links.values()) link.close('shutdown');
  }

  /** The gateway `gateway` has a link up to this bridge. */
  hasLinkFrom(gateway: string): boolean {
    return this.links.get(gateway)?.isOpen ?? false;
  }

  async waitForLinkFrom(gateway: string): Promise<void> {
    await waitFor(`a media link from ${gateway} to ${this.instanceId}`, () => this.hasLinkFrom(gateway));
  }

  /** Every record the gateway sent for the call, in order (the attach first). */
  records(callSid: string): GatewayRecord[] {
    return [...(this.calls.get(callSid)?.records ?? [])];
  }

  /** True once a gateway has attached the call here and the call has not stopped. */
  isAttached(callSid: string): boolean {
    return this.calls.get(callSid)?.attached !== undefined;
  }

  /** Sends a record to the call's caller, or holds it until the gateway attaches the call. */
  send(callSid: string, record: ToCallerRecord): boolean {
    const call = this.call(callSid);
    if (!call.attached) {
      call.held.push(record);
      return true;
    }
    const { link, ch } = call.attached;
    return link.send({ ...record, ch } as BridgeRecord);
  }

  /** Sends on the channel the call had here, even after its stop (what a real bridge may still have on the wire). */
  sendOnLastChannel(callSid: string, record: ToCallerRecord): boolean {
    const last = this.call(callSid).lastChannel;
    if (!last) throw new Error(`${callSid} was never attached to ${this.instanceId}`);
    return last.link.send({ ...record, ch: last.ch } as BridgeRecord);
  }

  /** Answers the latest started claim for the call (with answerClaims false): this bridge owns it. */
  answerClaim(callSid: string): boolean {
    const claim = this.claims.findLast((c) => c.callSid === callSid && c.reason === 'started');
    if (!claim) throw new Error(`${this.instanceId} has read no started claim for ${callSid}`);
    return this.tellOwner(claim);
  }

  private call(callSid: string): CallState {
    let call = this.calls.get(callSid);
    if (!call) {
      call = { records: [], attached: undefined, lastChannel: undefined, held: [] };
      this.calls.set(callSid, call);
    }
    return call;
  }

  private adopt(link: BridgeSideLink): void {
    this.links.get(link.peer)?.close('replaced');
    this.links.set(link.peer, link);
    link.onRecord = (record) => this.onRecord(link, record);
    void link.closed.then(() => {
      if (this.links.get(link.peer) === link) this.links.delete(link.peer);
      for (const call of this.calls.values()) if (call.attached?.link === link) call.attached = undefined;
    });
  }

  private onRecord(link: BridgeSideLink, record: GatewayRecord): void {
    switch (record.t) {
      case 'attach':
        return this.onAttach(link, record);
      case 'stop': {
        const call = this.call(record.call);
        call.records.push(record);
        call.attached = undefined;
        return;
      }
      default: {
        const callSid = this.channels.get(`${link.peer}:${record.ch}`);
        if (callSid) this.call(callSid).records.push(record);
        else this.unrouted.push(record);
      }
    }
  }

  private onAttach(link: BridgeSideLink, record: ReceivedRecord<'attach'>): void {
    const call = this.call(record.call);
    call.records.push(record);
    if (this.options.refuseAttach) {
      link.send({ t: 'refused', call: record.call, ch: record.ch, reason: this.options.refuseAttach });
      return;
    }
    this.channels.set(`${link.peer}:${record.ch}`, record.call);
    call.attached = { link, ch: record.ch };
    call.lastChannel = call.attached;
    link.send({ t: 'attached', call: record.call, ch: record.ch });
    const held = call.held;
    call.held = [];
    for (const r of held) link.send({ ...r, ch: record.ch } as BridgeRecord);
  }

  private tellOwner(claim: ClaimEntry): boolean {
    const link = claim.gateway ? this.links.get(claim.gateway) : undefined;
    return link?.send({ t: 'owner', call: claim.callSid, owner: this.instanceId }) ?? false;
  }

  private async readClaims(from: string): Promise<void> {
    let lastId = from;
    while (this.running) {
      let reply: Array<[string, Array<[string, string[]]>]> | null;
      try {
        reply = (await this.reader.xread(
          'BLOCK',
          TEST_BRIDGE_DEFAULTS.claimBlockMs,
          'STREAMS',
          this.keys.callClaims,
          lastId,
        )) as Array<[string, Array<[string, string[]]>]> | null;
      } catch {
        if (!this.running) return;
        await new Promise((resolve) => setTimeout(resolve, TEST_BRIDGE_DEFAULTS.claimRetryMs));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          lastId = id;
          const claim = decodeClaim(id, fields);
          this.claims.push(claim);
          if (this.running && this.answerClaims && claim.reason === 'started') this.tellOwner(claim);
        }
      }
    }
  }

  private report(): Promise<void> {
    this.reporting ??= this.registry
      .publish({
        instance: this.instanceId,
        linkHost: '127.0.0.1',
        linkPort: this.port,
        load: 0,
        capacity: this.capacity,
        draining: false,
        at: Date.now(),
      })
      // A report that fails is retried at the next beat, as a real bridge does.
      .catch(() => undefined)
      .finally(() => (this.reporting = undefined));
    return this.reporting;
  }
}

/** Model audio as a bridge sends it to the caller. */
export function agentAudio(
  payload: string,
  extra: { greeting?: boolean; markBefore?: string; markAfter?: string } = {},
): ToCallerRecord {
  return { t: 'media', payload, at: preciseNow(), greeting: extra.greeting ?? false, ...extra };
}
