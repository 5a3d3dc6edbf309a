/**
 * The bridge's media links, one per gateway (gateways dial in), and the
 * routing of what they carry: `attach` binds a call this bridge owns to a
 * channel of that link; audio, marks and dtmf go to the call on that
 * channel; `stop` goes to the call by CallSid. A link that closes detaches
 * every call on it (each then waits a grace period for its stream to come
 * back through another gateway).
 */
import type { Logger } from '@voice/logging';
import type { BridgeRecord, BridgeSideLink, GatewayRecord } from '@voice/media-link';
import type { CallRegistry } from '../call-registry.js';
import type { CallSession } from '../call/call-session.js';
import type { LinkMetrics } from '@voice/media-link';

interface LinkState {
  link: BridgeSideLink;
  channels: Map<number, CallSession>;
}

export class GatewayLinks {
  private readonly links = new Map<string, LinkState>();
  private readonly waiters = new Map<string, Array<(link: BridgeSideLink) => void>>();

  constructor(
    private readonly calls: CallRegistry,
    private readonly metrics: LinkMetrics,
    private readonly logger: Logger,
  ) {}

  /** A gateway authenticated: its records are routed from now on. */
  add(link: BridgeSideLink): void {
    const previous = this.links.get(link.peer);
    // A gateway that reconnects replaces its old link (which is dead or about to be).
    if (previous) previous.link.close('replaced');
    const state: LinkState = { link, channels: new Map() };
    this.links.set(link.peer, state);
    this.metrics.linksOpen.set(this.links.size);
    link.onRecord = (record) => this.route(state, record);
    void link.closed.then((reason) => this.onClosed(state, reason));
    for (const resolve of this.waiters.get(link.peer)?.splice(0) ?? []) resolve(link);
  }

  /** The open link from `gateway`, if there is one now. */
  current(gateway: string): BridgeSideLink | undefined {
    const state = this.links.get(gateway);
    return state?.link.isOpen ? state.link : undefined;
  }

  /** The link to `gateway`, waiting up to `timeoutMs` for it to be dialed (a gateway that just started). */
  async linkTo(gateway: string, timeoutMs: number): Promise<BridgeSideLink | undefined> {
    const current = this.links.get(gateway);
    if (current?.link.isOpen) return current.link;
    return new Promise((resolve) => {
      const list = this.waiters.get(gateway) ?? [];
      const timer = setTimeout(() => {
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      const done = (link: BridgeSideLink) => {
        clearTimeout(timer);
        resolve(link);
      };
      list.push(done);
      this.waiters.set(gateway, list);
    });
  }

  /** Forget a finished call's channel. */
  forget(session: CallSession): void {
    const attached = session.channel.attached;
    if (!attached) return;
    const state = this.links.get(attached.link.peer);
    if (state?.channels.get(attached.ch) === session) state.channels.delete(attached.ch);
  }

  closeAll(): void {
    for (const state of this.links.values()) state.link.close('shutdown');
  }

  private route(state: LinkState, record: GatewayRecord): void {
    switch (record.t) {
      case 'media':
        state.channels.get(record.ch)?.caller.media(record.payload);
        return;
      case 'mark':
        state.channels.get(record.ch)?.caller.mark(record.name);
        return;
      case 'dtmf':
        state.channels.get(record.ch)?.caller.dtmf(record.digit);
        return;
      case 'attach':
        return this.attach(state, record);
      case 'detach': {
        // The gateway is draining: the call is coming back through another one (<Connect action>).
        const session = state.channels.get(record.ch);
        if (!session || session.callSid !== record.call) return;
        state.channels.delete(record.ch);
        session.gatewayLost(state.link.peer, record.reason);
        return;
      }
      case 'stop': {
        const session = this.calls.get(record.call);
        if (session) {
          this.forget(session);
          session.caller.stop(record);
        }
        return;
      }
    }
  }

  private attach(state: LinkState, record: Extract<GatewayRecord, { t: 'attach' }>): void {
    const session = this.calls.get(record.call);
    const reply = (r: BridgeRecord) => state.link.send(r);
    if (!session || session.finished) {
      this.metrics.attachRefused.inc({ reason: 'not_here' });
      reply({ t: 'refused', call: record.call, ch: record.ch, reason: 'not_here' });
      return;
    }
    this.forget(session);
    state.channels.set(record.ch, session);
    reply({ t: 'attached', call: record.call, ch: record.ch });
    session.attach(state.link, record);
  }

  private onClosed(state: LinkState, reason: string): void {
    if (this.links.get(state.link.peer) === state) this.links.delete(state.link.peer);
    this.metrics.linksOpen.set(this.links.size);
    this.metrics.linksClosed.inc({ reason });
    if (state.channels.size > 0)
      this.logger.warn('media link to gateway closed with calls on it', {
        gateway: state.link.peer,
        reason,
        calls: state.channels.size,
      });
    for (const session of state.channels.values()) session.gatewayLost(state.link.peer, reason);
    state.channels.clear();
  }
}
