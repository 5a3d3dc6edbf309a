/**
 * How a call stops on this bridge: ended once the gateway reports its stream stopped (or the
 * gateway vanished for good), a warm session the call never arrived at expired, or the call
 * let go without a finalize (never attached, handed over). Each stops every collaborator and
 * closes the model session; only an ended call this bridge still owns is finalized here.
 */
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { callKeys, type RedisClient, type Timeline } from '@voice/redis';
import type { CallConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import type { CallOwnership } from '../call-ownership.js';
import type { CallControl } from '../twilio/call-control.js';
import type { CallerStream } from './caller-stream.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { ConnectDeadline } from './connect-deadline.js';
import type { ConversationRecord } from './conversation-record.js';
import type { DtmfInput } from './dtmf-input.js';
import { finalizeCall, type StopEntry } from './finalize-call.js';
import type { GatewayAttachment } from './gateway-attachment.js';
import type { GatewayChannel } from './gateway-channel.js';
import type { HoldAudio } from './hold-audio.js';
import { GATEWAY_LOST, classifyLostStream } from './lost-stream.js';
import type { SessionRecycler } from './session-recycler.js';
import type { SilenceWatch } from './silence-watch.js';

export interface CallEndingDeps {
  callSid: string;
  instanceId: string;
  config: CallConfig;
  redis: RedisClient;
  ownership: CallOwnership;
  timeline: Timeline;
  calls: CallRepository;
  metrics: BridgeMetrics;
  logger: Logger;
  /** Twilio's REST API, when the bridge has credentials: asked whether a lost stream's caller hung up. */
  callControl: CallControl | undefined;
  state: CallState;
  /** Aborted as the call stops: whatever setup or a reconnect has in flight gives up. */
  abort: AbortController;
  setupDeadline: ConnectDeadline;
  hold: HoldAudio;
  silence: SilenceWatch;
  /** An unfinished keypad entry is recorded and its timer cleared. */
  dtmf: DtmfInput;
  recycler: SessionRecycler;
  attachment: GatewayAttachment;
  channel: GatewayChannel;
  caller: CallerStream;
  conversation: ConversationRecord;
  tl: CallTimeline;
  /** The call is over on this bridge (the registry lets go of it). */
  onFinished(): void;
}

/** bridge.released reason: a warm session let go at shutdown before its call started. */
const NOT_STARTED_AT_SHUTDOWN = 'not_started_at_shutdown';

export class CallEnding {
  constructor(private readonly deps: CallEndingDeps) {}

  /** Ends the call once the gateway reports the stream stopped (or it vanished for good). */
  async end(stop: StopEntry): Promise<void> {
    const { deps } = this;
    const { state } = deps;
    if (state.finished) return;
    state.phase = 'ending';
    this.stopEverything('call ended');
    try {
      // A call handed to another bridge is finalized there, once; one whose gateway finished it
      // itself while this bridge was out of reach (its meta is gone) is not finalized twice.
      if (stop.reason === 'handed_over') void deps.tl.record('bridge.released', { reason: 'handed_over' });
      else if (!(await this.unlessRedisDown(deps.ownership.isOwner(deps.callSid), 'owner')))
        void deps.tl.record('bridge.released', { reason: 'not_owner_at_end' }, 'warn');
      else if (
        stop.reason === GATEWAY_LOST &&
        !(await this.unlessRedisDown(deps.ownership.notOver(deps.callSid), 'not over'))
      )
        void deps.tl.record('bridge.released', { reason: 'finished_by_gateway' }, 'warn');
      else {
        // A lost stream may only mean the caller hung up while it was down: Twilio says which.
        const reason = stop.reason === GATEWAY_LOST ? await classifyLostStream(deps) : stop.reason;
        const whole = { ...deps.attachment.wholeCall(stop), reason };
        await finalizeCall(deps, deps.callSid, state.stats, whole, deps.conversation);
      }
    } catch (err) {
      deps.logger.error('call finalize failed', errorFields(err));
    } finally {
      state.phase = 'ended';
      deps.onFinished();
    }
  }

  /**
   * A check that lets another writer finalize the call (a new owner, the gateway), asked of Redis.
   * Redis unreachable at the end of a call (a restart, a failover) must not lose its record: true
   * then, and this bridge writes it (the calls upsert is idempotent; its timeline entries wait in
   * the outage buffer). The price is a row written twice in the rare call also taken over meanwhile.
   */
  private async unlessRedisDown(check: Promise<boolean>, assumed: string): Promise<boolean> {
    try {
      return await check;
    } catch (err) {
      this.deps.logger.warn(
        `Redis unreachable at the end of the call: taken as ${assumed}, finalizing here`,
        errorFields(err),
      );
      return true;
    }
  }

  /** The call never arrived (TTL) or failed before START (no_start): close the model session, leave only the timeline. */
  async expireWarm(reason: string): Promise<void> {
    const { deps } = this;
    const { state } = deps;
    if (state.finished) return;
    deps.metrics.warmExpired.inc({ reason });
    void deps.tl.record('warm.expired', { reason, ttl_ms: deps.config.warmSessionTtlMs }, 'warn');
    state.phase = 'ending';
    // Also aborts a set-up still connecting (a no_start stop can come before the session is open).
    this.stopEverything('warm session expired');
    await deps.ownership.deleteCallKeys(deps.callSid);
    // The call never happened: its record holds only the warm session's settings.
    await deps.redis.del(callKeys.conversation(deps.callSid)).catch(() => undefined);
    this.release();
  }

  /**
   * Shutting down with a warm session whose call has not started (an outbound call still ringing at
   * the drain deadline): no caller to tell, so no fallback. The owner key and the session's record go
   * (the record may hold a greeting nobody heard), so the call starts afresh on whichever bridge
   * takes its START, and is greeted there.
   */
  async letGoUnstarted(): Promise<void> {
    const { deps } = this;
    if (deps.state.finished) return;
    deps.state.phase = 'ending';
    this.stopEverything('bridge shutting down');
    await deps.redis.del(callKeys.conversation(deps.callSid)).catch(() => undefined);
    await deps.ownership.release(deps.callSid);
    void deps.tl.record('bridge.released', { reason: NOT_STARTED_AT_SHUTDOWN });
    deps.state.phase = 'ended';
    deps.onFinished();
  }

  /** Lets the call go without a finalize; `reason` goes on the timeline as bridge.released. */
  release(reason?: string, warning?: string): void {
    const { deps } = this;
    const { state } = deps;
    if (warning) deps.logger.warn(warning);
    if (reason) void deps.tl.record('bridge.released', { reason }, 'warn');
    state.phase = 'ended';
    this.stopEverything('released');
    // Let go of the owner key only where it is still ours (after a hand-over it is not).
    if (reason === 'no_attach') void deps.ownership.release(deps.callSid);
    deps.onFinished();
  }

  /** Whatever still runs for the call stops: setup, timers, the recycler, both sides, the model session. */
  private stopEverything(closeReason: string): void {
    const { deps } = this;
    deps.abort.abort();
    deps.setupDeadline.disarm();
    deps.hold.stop();
    deps.silence.stop();
    deps.dtmf.stop();
    deps.recycler.stop();
    deps.attachment.stopGrace();
    deps.attachment.stopWaiting();
    deps.caller.close();
    deps.channel.close();
    deps.state.rt?.close({ code: 1000, reason: closeReason });
  }
}
