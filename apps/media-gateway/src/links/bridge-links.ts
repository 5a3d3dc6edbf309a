/**
 * The gateway's media links: one to every live bridge in the registry (the
 * gateway dials; the registry, read every REGISTRY_POLL_MS, says where each
 * bridge listens and whether it has room). Calls ride these links as
 * channels. Records from a bridge are routed here: audio and control by
 * channel to the call's handler, answers to attaches and claims by CallSid
 * to whoever waits for them. A link that closes (or stops answering pings)
 * tells every call on it, so each can be handed to another bridge.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import {
  dialMediaLink,
  linkObserver,
  type AttachRecord,
  type BridgeRecord,
  type GatewaySideLink,
  type LinkMetrics,
} from '@voice/media-link';
import { hasRoom, type BridgeInfo, type BridgeRegistry } from '@voice/redis';
import type { GatewayConfig } from '../config.js';

/** What a call on a channel must handle (see session/bridge-call.ts). */
export interface ChannelHandler {
  deliver(record: Extract<BridgeRecord, { ch: number }>): void;
  bridgeLost(bridge: string, reason: string): void;
}

export type AttachOutcome = 'attached' | 'refused' | 'no_link' | 'timeout';

/**
 * How long a call's channel on the bridge it moved off still takes keys that bridge gives back: it
 * sends them within a link round trip of the switch (a key that was on its way to it), so seconds
 * are plenty.
 */
const GIVEN_BACK_KEYS_MS = 5000;

interface LinkState {
  link: GatewaySideLink;
  channels: Map<number, ChannelHandler>;
}

export class BridgeLinks {
  private readonly links = new Map<string, LinkState>();
  private readonly dialing = new Map<string, Promise<LinkState | undefined>>();
  private readonly failedAt = new Map<string, number>();
  private readonly ownerWaiters = new Map<string, (owner: string) => void>();
  private readonly attachWaiters = new Map<string, (outcome: AttachOutcome) => void>();
  private known = new Map<string, BridgeInfo>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private nextChannel = 0;
  private stopped = false;
  /** `peer:ch` of channels a call moved off (planned move) -> where keys given back on them go. */
  private readonly movedOff = new Map<string, (keys: string) => void>();

  constructor(
    private readonly registry: BridgeRegistry,
    private readonly config: GatewayConfig,
    private readonly metrics: LinkMetrics,
    private readonly logger: Logger,
  ) {}

  /** Reads the registry and dials every live bridge once before the gateway takes calls. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.config.registryPollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await Promise.allSettled([...this.dialing.values()]);
    for (const state of this.links.values()) state.link.close('shutdown');
  }

  /**
   * Some live bridge that this gateway has a link to has room for a call, as of the last
   * registry read. A bridge not linked yet cannot answer this gateway's claim, so it does not count.
   */
  anyRoom(): boolean {
    for (const info of this.known.values())
      if (hasRoom(info) && this.links.get(info.instance)?.link.isOpen) return true;
    return false;
  }

  /**
   * Like anyRoom(), but when no linked bridge has room, reads the registry now and dials any
   * bridge with room that this gateway is not linked to yet (one that just started, or one
   * whose link just dropped), before a caller is told the lines are busy.
   */
  async ensureRoom(): Promise<boolean> {
    if (this.anyRoom()) return true;
    await this.poll({ ignoreBackoff: true });
    return this.anyRoom();
  }

  /** The link to `bridge`, dialing it now if the registry knows it and no link is up. */
  async linkTo(bridge: string): Promise<GatewaySideLink | undefined> {
    const open = this.links.get(bridge);
    if (open?.link.isOpen) return open.link;
    let info = this.known.get(bridge);
    if (!info) {
      info = await this.registry.get(bridge).catch(() => undefined);
      if (info) this.known.set(bridge, info);
    }
    if (!info) return undefined;
    return (await this.dial(info))?.link;
  }

  /** Asks `link`'s bridge to take the call on a new channel; resolves with its answer. */
  attach(
    link: GatewaySideLink,
    record: Omit<AttachRecord, 't' | 'ch'>,
    handler: ChannelHandler,
  ): Promise<{ outcome: AttachOutcome; ch: number }> {
    const state = this.links.get(link.peer);
    const ch = ++this.nextChannel;
    if (!state || state.link !== link || !link.isOpen) return Promise.resolve({ outcome: 'no_link', ch });
    state.channels.set(ch, handler);
    const key = `${link.peer}:${ch}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('timeout'), this.config.attachTimeoutMs);
      const finish = (outcome: AttachOutcome) => {
        clearTimeout(timer);
        this.attachWaiters.delete(key);
        if (outcome !== 'attached') state.channels.delete(ch);
        resolve({ outcome, ch });
      };
      this.attachWaiters.set(key, finish);
      if (!link.send({ t: 'attach', ch, ...record })) finish('no_link');
    });
  }

  /** Forgets a call's channel (the call ended or moved). */
  release(link: GatewaySideLink, ch: number): void {
    this.links.get(link.peer)?.channels.delete(ch);
  }

  /**
   * Forgets the channel of a call that moved to another bridge, except for keys the old bridge
   * gives back on it (`rehome` with `keys`: keys that were on their way to it when the move began),
   * which still reach the call through `onKeys` for a few seconds.
   */
  releaseMoved(link: GatewaySideLink, ch: number, onKeys: (keys: string) => void): void {
    this.release(link, ch);
    const key = `${link.peer}:${ch}`;
    this.movedOff.set(key, onKeys);
    setTimeout(() => this.movedOff.delete(key), GIVEN_BACK_KEYS_MS).unref();
  }

  /** Waits for a bridge to answer this gateway's claim for `callSid` with the call's owner. */
  awaitOwner(callSid: string, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (owner: string | undefined) => {
        clearTimeout(timer);
        if (this.ownerWaiters.get(callSid) === done) this.ownerWaiters.delete(callSid);
        resolve(owner);
      };
      const done = (owner: string) => finish(owner);
      this.ownerWaiters.set(callSid, done);
    });
  }

  private async poll(opts: { ignoreBackoff?: boolean } = {}): Promise<void> {
    // A poll already running may predate what the caller needs (ignoreBackoff): wait, then poll again.
    if (this.polling && opts.ignoreBackoff) await this.polling;
    this.polling ??= (async () => {
      try {
        const live = await this.registry.live();
        this.known = new Map(live.map((info) => [info.instance, info]));
        const now = Date.now();
        const backedOff = (info: BridgeInfo) =>
          !opts.ignoreBackoff && now - (this.failedAt.get(info.instance) ?? 0) < this.config.redialBackoffMs;
        const toDial = live.filter(
          (info) => !this.links.has(info.instance) && !backedOff(info) && (!opts.ignoreBackoff || hasRoom(info)),
        );
        await Promise.all(toDial.map((info) => this.dial(info)));
      } catch (err) {
        this.logger.error('bridge registry read failed', errorFields(err));
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  private dial(info: BridgeInfo): Promise<LinkState | undefined> {
    const pending = this.dialing.get(info.instance);
    if (pending) return pending;
    const attempt = (async () => {
      try {
        const link = await dialMediaLink({
          host: info.linkHost,
          port: info.linkPort,
          instanceId: this.config.instanceId,
          secret: this.config.link.secret,
          timings: this.config.link.timings,
          logger: this.logger,
          observer: linkObserver(this.metrics),
        });
        if (this.stopped) {
          link.close('shutdown');
          return undefined;
        }
        if (link.peer !== info.instance) {
          // The address one bridge published reaches another (a shared DNS name behind several
          // replicas): keeping it would route that bridge's calls to the wrong process.
          link.close('wrong_peer');
          throw new Error(
            `MEDIA_LINK_HOST ${info.linkHost}:${info.linkPort} of bridge ${info.instance} reaches bridge ${link.peer}: give each bridge an address of its own`,
          );
        }
        this.failedAt.delete(info.instance);
        return this.adopt(link);
      } catch (err) {
        this.failedAt.set(info.instance, Date.now());
        this.metrics.dialFailures.inc();
        this.logger.warn('media link dial failed', {
          bridge: info.instance,
          host: info.linkHost,
          port: info.linkPort,
          ...errorFields(err),
        });
        return undefined;
      } finally {
        this.dialing.delete(info.instance);
      }
    })();
    this.dialing.set(info.instance, attempt);
    return attempt;
  }

  private adopt(link: GatewaySideLink): LinkState {
    const state: LinkState = { link, channels: new Map() };
    this.links.get(link.peer)?.link.close('replaced');
    this.links.set(link.peer, state);
    this.metrics.linksOpen.set(this.links.size);
    link.onRecord = (record) => this.route(state, record);
    void link.closed.then((reason) => this.onClosed(state, reason));
    this.logger.info('media link up', { bridge: link.peer });
    return state;
  }

  private route(state: LinkState, record: BridgeRecord): void {
    switch (record.t) {
      case 'owner':
        this.ownerWaiters.get(record.call)?.(record.owner);
        return;
      case 'attached':
      case 'refused':
        this.attachWaiters.get(`${state.link.peer}:${record.ch}`)?.(record.t);
        return;
      default: {
        const handler = state.channels.get(record.ch);
        if (handler) handler.deliver(record);
        else if (record.t === 'rehome' && record.keys)
          this.movedOff.get(`${state.link.peer}:${record.ch}`)?.(record.keys);
      }
    }
  }

  private onClosed(state: LinkState, reason: string): void {
    if (this.links.get(state.link.peer) === state) this.links.delete(state.link.peer);
    this.metrics.linksOpen.set(this.links.size);
    this.metrics.linksClosed.inc({ reason });
    const handlers = [...state.channels.values()];
    state.channels.clear();
    if (handlers.length > 0)
      this.logger.warn('media link to bridge lost with calls on it', {
        bridge: state.link.peer,
        reason,
        calls: handlers.length,
      });
    for (const handler of handlers) handler.bridgeLost(state.link.peer, reason);
    // A bridge that is still alive is dialed again at the next poll (or at once, by ensureRoom()).
  }
}
