/**
 * One started call's tie to its bridge, at the gateway. On START: attach the
 * call to its owner (a warm bridge) over their media link; with no live
 * owner, publish a claim and attach to whichever bridge with room takes it.
 * When no bridge has room, the caller hears the busy clip and then the TwiML
 * fallback (`realtime.fallback reason=NO_CAPACITY`). When the bridge's link
 * dies mid-call, the caller hears the hold clip while the call is offered
 * again, naming the lost owner so another bridge may take it over. When a
 * bridge shutting down asks (`rehome`), the call is moved the same way but
 * without a gap in its audio: it stays on the old bridge until the new one has
 * taken it, then the old one gets a `stop` (handed_over). Keys pressed during
 * the move wait for the switch and go to the new bridge.
 */
import { errorFields } from '@voice/logging';
import type { BridgeRecord, Handover, StopRecord } from '@voice/media-link';
import { CLAIM_STREAM_MAXLEN, callKeys, encodeClaim, type CallMeta } from '@voice/redis';
import type { ChannelHandler } from '../links/bridge-links.js';
import { deliverToCaller, hangup } from '../links/deliver-to-caller.js';
import type { ActiveStream } from './active-stream.js';
import { finishUnownedCall } from './finish-unowned.js';
import type { MediaSession } from './media-session.js';

export interface StartFacts {
  streamSid: string;
  acceptedAt: number;
  params: Record<string, string>;
  meta: CallMeta | undefined;
}

/** lost_while_closing: the bridge's link died during a hangup clip; the gateway finishes the call. */
type Phase = 'connecting' | 'attached' | 'lost_while_closing' | 'no_capacity' | 'ended';

export class BridgeCall implements ChannelHandler {
  private phase: Phase = 'connecting';
  /** Each connect() run; a newer one makes an older one's late answers void. */
  private run = 0;
  private stopRecord: StopRecord | undefined;
  /** Set once the call was attached and lost its bridge: the next bridge resumes it (the attach says so). */
  private handover: Handover | undefined;
  /** A planned move (rehome) is in flight. */
  private moving = false;

  constructor(
    private readonly session: MediaSession,
    private readonly stream: ActiveStream,
    private readonly facts: StartFacts,
  ) {}

  /** Attaches the call to `owner`, or finds it one; `previousOwner` is a bridge whose link was lost. */
  async connect(owner: string | null, previousOwner?: string): Promise<void> {
    const run = ++this.run;
    let lost = previousOwner;
    if (owner && owner !== previousOwner) {
      if (await this.tryAttach(owner, 'owner', run)) return;
      // An owner we cannot reach (dead, or its link is down) may be taken over.
      lost = owner;
    }
    if (!this.current(run)) return this.concludeUnowned(run);
    const { links, config } = this.session.ctx;
    if (!(await links.ensureRoom())) return this.lastChance(run, lost, 'no bridge has room');
    if (!this.current(run)) return this.concludeUnowned(run);
    const answer = links.awaitOwner(this.stream.callSid, config.claimTimeoutMs);
    this.publishClaim(lost);
    const claimed = await answer;
    if (!claimed) return this.lastChance(run, lost, 'no bridge took the call in time');
    if (await this.tryAttach(claimed, 'claim', run)) return;
    await this.lastChance(run, lost, 'the bridge that took the call refused the attach');
  }

  /**
   * Before the busy message: a warm session may have been opened for this call after START
   * read the owner key (the prebuild ran late), on a bridge now too full to read this claim.
   */
  private async lastChance(run: number, lost: string | undefined, detail: string): Promise<void> {
    if (!this.current(run)) return this.concludeUnowned(run);
    const owner = await this.session.ctx.redis.get(callKeys.owner(this.stream.callSid)).catch(() => null);
    if (owner && owner !== lost && (await this.tryAttach(owner, 'owner', run))) return;
    if (this.current(run)) this.noCapacity(detail);
    else this.concludeUnowned(run);
  }

  deliver(record: Extract<BridgeRecord, { ch: number }>): void {
    if (record.t !== 'rehome') return deliverToCaller(this.session, this.stream, record);
    void this.moveOff(record.keys ?? '').catch((err: unknown) =>
      this.session.log.error('call move failed', errorFields(err)),
    );
  }

  bridgeLost(bridge: string, reason: string): void {
    if (this.phase !== 'attached') return;
    this.stream.detach();
    // Already hanging up (a clip before the close): let it finish; nothing to hand over.
    if (this.session.phase !== 'streaming') {
      this.phase = 'lost_while_closing';
      return;
    }
    this.phase = 'connecting';
    this.handover = { from: bridge, at: Date.now(), planned: false };
    const { ctx, checkpoints } = this.session;
    ctx.metrics.callsOrphaned.inc();
    checkpoints.record('call.orphaned', { previous_owner: bridge, link_reason: reason }, 'warn');
    // The caller hears "one moment please", repeated, while another bridge takes over (until its model speaks).
    this.stream.hold.start();
    void this.connect(null, bridge).catch((err: unknown) =>
      this.session.log.error('call hand-over failed', errorFields(err)),
    );
  }

  /**
   * The gateway is going away but the call is not over: tell the bridge (it keeps the model session
   * for the stream to come back through another gateway). False when there is no bridge to tell.
   */
  handOver(reason: string): boolean {
    const attached = this.stream.bridge;
    if (this.phase !== 'attached' || !attached) return false;
    this.phase = 'ended';
    this.stream.releaseKeys();
    attached.link.send({ t: 'detach', call: this.stream.callSid, ch: attached.ch, reason });
    this.session.ctx.links.release(attached.link, attached.ch);
    return true;
  }

  /** The stream ended (Twilio stop, socket closed, hangup, shutdown): tell the bridge, or finish the call here. */
  end(stop: StopRecord): void {
    const previous = this.phase;
    this.phase = 'ended';
    this.stopRecord = stop;
    const attached = this.stream.bridge;
    if (previous === 'attached' && attached) {
      // Keys held by a move still under way go before the stop, to the bridge that finalizes the call.
      this.stream.releaseKeys();
      attached.link.send(stop);
      this.session.ctx.links.release(attached.link, attached.ch);
      return;
    }
    if (previous === 'no_capacity') void this.finishHere(stop, 'fallback:NO_CAPACITY');
    if (previous === 'lost_while_closing') void this.finishHere(stop, stop.reason);
    // 'connecting': the connect run still in flight sends the stop to the owner it finds, or finishes here.
  }

  private current(run: number): boolean {
    return run === this.run && this.phase === 'connecting';
  }

  private async tryAttach(owner: string, via: 'owner' | 'claim', run: number): Promise<boolean> {
    const { ctx, checkpoints } = this.session;
    const link = await ctx.links.linkTo(owner);
    if (!link) return false;
    const { stream } = this;
    const { outcome, ch } = await ctx.links.attach(link, this.attachFields(this.handover), this);
    if (outcome !== 'attached') {
      this.session.log.warn('bridge did not take the attach', { bridge: owner, outcome });
      return false;
    }
    if (!this.current(run)) {
      // The call ended while the bridge was answering: it owns the call now, so it finalizes it.
      if (this.phase === 'ended' && this.stopRecord) link.send(this.stopRecord);
      ctx.links.release(link, ch);
      return true;
    }
    const held = stream.attach({ link, ch, owner });
    this.phase = 'attached';
    checkpoints.record('link.attached', {
      bridge: owner,
      via,
      attach_ms: Date.now() - stream.startReceivedAt,
      held_records: held,
    });
    return true;
  }

  private attachFields(handover: Handover | undefined) {
    const { stream, facts } = this;
    const { instanceId } = this.session.ctx.config;
    return {
      call: stream.callSid,
      streamSid: facts.streamSid,
      gateway: instanceId,
      startedAt: stream.startReceivedAt,
      acceptedAt: facts.acceptedAt,
      params: facts.params,
      handover,
    };
  }

  /**
   * The call's bridge is shutting down: find it another bridge with room (a claim naming the old
   * one, which that bridge may then take the call over from), attach it there, and only then switch
   * the caller's audio and send the old bridge the call's stop. With no bridge to take it, the call
   * stays where it is (the old bridge asks again, and falls back at its drain deadline). Keys the
   * old bridge gave up (`keys`, an entry it had begun) and keys pressed meanwhile wait for the
   * switch, then go to the bridge the call is on.
   */
  private async moveOff(keys: string): Promise<void> {
    const from = this.stream.bridge;
    if (this.phase !== 'attached' || !from || this.moving || this.session.phase !== 'streaming') {
      // Keys the bridge gave up go to the move under way, or back to whichever bridge has the call
      // (to none once the call has ended: its stop is sent).
      if (this.phase !== 'ended') this.stream.returnKeys(keys);
      return;
    }
    this.moving = true;
    this.stream.holdKeys();
    this.stream.returnKeys(keys);
    const { ctx, checkpoints, log } = this.session;
    const handover: Handover = { from: from.owner, at: Date.now(), planned: true };
    try {
      if (!(await ctx.links.ensureRoom())) {
        log.info('no other bridge has room for the call; it stays', { bridge: from.owner });
        return;
      }
      const answer = ctx.links.awaitOwner(this.stream.callSid, ctx.config.claimTimeoutMs);
      this.publishClaim(from.owner);
      const owner = await answer;
      if (!owner || owner === from.owner) {
        log.warn('no bridge took the call over; it stays', { bridge: from.owner });
        return;
      }
      const link = await ctx.links.linkTo(owner);
      if (!link) return;
      const { outcome, ch } = await ctx.links.attach(link, this.attachFields(handover), this);
      if (outcome !== 'attached') {
        log.warn('bridge did not take the attach', { bridge: owner, outcome });
        return;
      }
      const phase = this.phase as Phase; // changed meanwhile if the call ended or its old link died
      if (phase !== 'attached' || this.stream.bridge !== from) {
        // The call ended (or its old bridge died) meanwhile: the new owner finalizes it, or the
        // hand-over already under way attaches it again.
        if (phase === 'ended' && this.stopRecord) link.send(this.stopRecord);
        ctx.links.release(link, ch);
        return;
      }
      // The switch: caller audio goes to the new bridge from here on; nothing more from the old one is played.
      this.stream.attach({ link, ch, owner });
      ctx.links.releaseMoved(from.link, from.ch, (given) => this.keysGivenBackLate(given));
      from.link.send(this.stopFor('handed_over'));
      this.handover = handover;
      checkpoints.record('link.attached', {
        bridge: owner,
        via: 'handover',
        attach_ms: Date.now() - this.stream.startReceivedAt,
        move_ms: Date.now() - handover.at,
      });
    } finally {
      this.moving = false;
      this.stream.releaseKeys();
    }
  }

  /**
   * Keys the old bridge gave back after the switch (they were on their way to it when the move
   * began): they go to the bridge the call is on now, or to a move under way.
   */
  private keysGivenBackLate(keys: string): void {
    // Connecting (the new bridge's link died meanwhile): they wait with the caller's audio for the next attach.
    if (this.phase === 'attached' || this.phase === 'connecting') return this.stream.returnKeys(keys);
    this.session.log.warn('keys given back by the bridge the call moved off are lost: the call is ending', {
      keys: keys.length,
      phase: this.phase,
    });
  }

  private stopFor(reason: string): StopRecord {
    const { stream } = this;
    return {
      t: 'stop',
      call: stream.callSid,
      reason,
      rx: stream.rx,
      tx: stream.tx,
      txBytes: stream.txBytes,
      firstAudioAt: stream.firstAudioAt,
      endedAt: Date.now(),
      invalidMessages: 0,
    };
  }

  private publishClaim(previousOwner: string | undefined): void {
    const { ctx, log } = this.session;
    const claim = encodeClaim({
      callSid: this.stream.callSid,
      reason: 'started',
      at: Date.now(),
      gateway: ctx.config.instanceId,
      previousOwner,
    });
    ctx.redis
      .xadd(ctx.keys.callClaims, 'MAXLEN', '~', String(CLAIM_STREAM_MAXLEN), '*', ...claim)
      .catch((err: unknown) => log.error('call claim publish failed', errorFields(err)));
  }

  /** Every bridge is full: the busy clip, then the TwiML fallback. The gateway finishes the call. */
  private noCapacity(detail: string): void {
    const { ctx, checkpoints } = this.session;
    this.phase = 'no_capacity';
    ctx.metrics.noCapacity.inc();
    checkpoints.record('realtime.fallback', { reason: 'NO_CAPACITY', action: 'busy_clip_then_twiml', detail }, 'warn');
    hangup(this.session, this.stream, 'fallback:NO_CAPACITY', 'busy');
  }

  /** A connect run that ended without an owner after the caller had already gone. */
  private concludeUnowned(run: number): void {
    if (run !== this.run || this.phase !== 'ended' || !this.stopRecord) return;
    void this.finishHere(this.stopRecord, this.stopRecord.reason);
  }

  private async finishHere(stop: StopRecord, endReason: string): Promise<void> {
    const { session, stream, facts } = this;
    await finishUnownedCall(session.ctx, session.checkpoints, session.log, {
      callSid: stream.callSid,
      meta: facts.meta,
      endedAt: stop.endedAt,
      endReason,
      rx: stop.rx,
      tx: stop.tx,
      durationMs: stop.endedAt - stream.startReceivedAt,
      metrics: { rx: stop.rx, tx: stop.tx },
    });
  }
}
