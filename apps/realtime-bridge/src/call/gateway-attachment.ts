/**
 * The call's hold on the gateway carrying its stream: the first attach (START, which setup
 * may wait for), an attach through another gateway after the one holding the call went
 * away, and the GATEWAY_REATTACH_GRACE_MS a vanished gateway gets to come back; after that
 * the call ends as gateway_lost. It also keeps what the call's earlier streams carried, so
 * the call's totals span every stream it had.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { AttachRecord, BridgeSideLink } from '@voice/media-link';
import type { AgentControl } from './agent-control.js';
import type { CallerStream } from './caller-stream.js';
import { GATEWAY_LOST } from './lost-stream.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { StopEntry } from './finalize-call.js';
import type { GatewayChannel } from './gateway-channel.js';

export interface GatewayAttachmentDeps {
  state: CallState;
  channel: GatewayChannel;
  caller: CallerStream;
  agentControl: AgentControl;
  tl: CallTimeline;
  logger: Logger;
  graceMs: number;
  /** No gateway came back within the grace: the call ends with this stop. */
  onGone(stop: StopEntry): void;
}

/** How a wait for the first attach also notices a call that ended before it was answered. */
export interface CallOverCheck {
  everyMs: number;
  isOver: () => Promise<boolean>;
}

export class GatewayAttachment {
  private firstRecord: AttachRecord | undefined;
  private attachWaiter: ((record: AttachRecord | undefined) => void) | undefined;
  private reattachTimer: NodeJS.Timeout | undefined;
  /** While the call has no gateway: which one went away, and when (for call.reattached). */
  private detached: { gateway: string; at: number } | undefined;
  /**
   * What the call's earlier streams carried, as this bridge counted it, once a gateway went away: a
   * re-attached call's last stop counts only its own stream, and the call's totals add these.
   */
  private earlierStreams: { rx: number; tx: number; firstAudioAt: number | undefined } | undefined;
  /** Set when a warm outbound call ended before it was answered (its meta is gone). */
  private callOverSeen = false;

  constructor(private readonly deps: GatewayAttachmentDeps) {}

  /** The call's first attach (START), once it happened. */
  get started(): boolean {
    return this.firstRecord !== undefined;
  }

  /** A wait for the first attach ended because the call was over (see waitForAttach's callOver). */
  get callWasOver(): boolean {
    return this.callOverSeen;
  }

  /** A gateway attached the call on `link` as channel `ch` (first START, or after another gateway died). */
  attach(link: BridgeSideLink, record: AttachRecord): void {
    const { deps } = this;
    const { channel, caller } = deps;
    const previous = channel.attached;
    this.stopGrace();
    const held = channel.attach({ link, ch: record.ch });
    if (previous && previous.link !== link)
      deps.logger.info('call attached through another gateway', { gateway: record.gateway, held });
    const reattached = this.firstRecord !== undefined;
    const detached = this.detached;
    this.detached = undefined;
    // The same model session carries on: no greeting, the conversation goes on where it was.
    if (detached)
      void deps.tl.record('call.reattached', {
        from_gateway: detached.gateway,
        to_gateway: record.gateway,
        gap_ms: Date.now() - detached.at,
        held_records: held,
      });
    caller.attach(record);
    if (reattached) deps.agentControl.onStreamReplaced();
  }

  /** The caller stream started (CallerStream's attach): remembers the first, wakes a waiter. */
  onStarted(record: AttachRecord): void {
    this.firstRecord ??= record;
    this.attachWaiter?.(record);
  }

  /** The link to the gateway holding the call closed: wait for the stream to come back, briefly. */
  gatewayLost(gateway: string, reason: string): void {
    const { deps } = this;
    const { channel, caller } = deps;
    if (deps.state.finished) return;
    channel.detach();
    this.detached ??= { gateway, at: Date.now() };
    this.earlierStreams = {
      rx: caller.received,
      tx: channel.mediaSent,
      firstAudioAt: channel.firstMediaSentAt,
    };
    void deps.tl.record('link.detached', { gateway, reason, grace_ms: deps.graceMs }, 'warn');
    clearTimeout(this.reattachTimer);
    this.reattachTimer = setTimeout(() => this.onGatewayGone(), deps.graceMs);
    this.reattachTimer.unref();
  }

  /** The call is ending: no grace timer outlives it. */
  stopGrace(): void {
    clearTimeout(this.reattachTimer);
    this.reattachTimer = undefined;
  }

  /** The first attach, or undefined after `timeoutMs` (or once `callOver` says the call is over). */
  waitForAttach(timeoutMs: number, callOver?: CallOverCheck): Promise<AttachRecord | undefined> {
    if (this.firstRecord) return Promise.resolve(this.firstRecord);
    return new Promise((resolve) => {
      const done = (record: AttachRecord | undefined) => {
        clearTimeout(timer);
        clearInterval(check);
        this.attachWaiter = undefined;
        resolve(record);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const check = callOver
        ? setInterval(() => {
            void callOver.isOver().then(
              (over) => {
                if (!over || this.firstRecord) return;
                this.callOverSeen = true;
                done(undefined);
              },
              (err: unknown) => this.deps.logger.warn('warm call check failed', errorFields(err)),
            );
          }, callOver.everyMs)
        : undefined;
      this.attachWaiter = done;
    });
  }

  /** The call stops here: a wait for the first attach ends now (its timers go with it). */
  stopWaiting(): void {
    this.attachWaiter?.(undefined);
  }

  /** The call's counts across every stream it had (a stop from the gateway counts only its own stream). */
  wholeCall(stop: StopEntry): StopEntry {
    const earlier = this.earlierStreams;
    // gateway_lost is built from this bridge's own totals, which already span every stream.
    if (!earlier || stop.reason === GATEWAY_LOST) return stop;
    return {
      ...stop,
      rx: earlier.rx + stop.rx,
      tx: earlier.tx + stop.tx,
      firstAudioAt: earlier.firstAudioAt ?? stop.firstAudioAt,
    };
  }

  private onGatewayGone(): void {
    const { deps } = this;
    const { channel, caller } = deps;
    if (deps.state.finished) return;
    deps.onGone({
      reason: GATEWAY_LOST,
      rx: caller.received,
      tx: channel.mediaSent,
      txBytes: 0,
      // The caller was last connected when the stream went away, not when the grace ran out: the
      // call's duration (and what it is billed as) stops there.
      endedAt: this.detached?.at ?? Date.now(),
      invalidMessages: 0,
    });
  }
}
