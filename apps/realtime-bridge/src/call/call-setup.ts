/**
 * Setting a call up (CallSession.run): wait for the gateway's attach (cold), load what was said
 * so far (taken over), open the model session while the prompt loads, configure it, then go
 * live with the greeting, resume a handed-over conversation, or (warm) ask for the greeting
 * while the phone still rings and wait for the attach. The caller-facing connect deadline
 * (connect-deadline.ts) is armed when the caller starts to wait; a model that is not ready by
 * then, or any failure here, sends the caller to the fallback.
 */
import type OpenAI from 'openai';
import type { BusinessRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { AttachRecord } from '@voice/media-link';
import { readCallMeta, recordGreetingPath, type GreetingPath, type RedisClient, type Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import type { CallControl } from '../twilio/call-control.js';
import type { CallOwnership } from '../call-ownership.js';
import { runnableTools } from './agent-control.js';
import { loadConversation } from './call-resume.js';
import type { CallEnding } from './call-ending.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { ConnectDeadline } from './connect-deadline.js';
import type { ConversationRecord } from './conversation-record.js';
import { recordConnectFailure } from './fallback.js';
import type { GatewayAttachment } from './gateway-attachment.js';
import type { LiveStart } from './live-start.js';
import type { ModelEvents } from './model-events.js';
import { loadCallPrompt, type ResolvedPrompt } from './prompt-source.js';
import { configureSession, openSession, type SessionHooks, type SetupDeps } from './session-setup.js';

export interface CallSetupDeps {
  /** warm: claimed when the prebuild ran, before START; cold: claimed on START. */
  mode: 'warm' | 'cold';
  callSid: string;
  config: CallConfig;
  openaiConfig: OpenAIConfig;
  openai: OpenAI;
  redis: RedisClient;
  ownership: CallOwnership;
  businesses: BusinessRepository;
  callControl: CallControl | undefined;
  timeline: Timeline;
  metrics: BridgeMetrics;
  logger: Logger;
  state: CallState;
  conversation: ConversationRecord;
  model: ModelEvents;
  attachment: GatewayAttachment;
  live: LiveStart;
  ending: CallEnding;
  tl: CallTimeline;
  sessionSetup: SetupDeps;
  hooks: SessionHooks;
  /** Aborted when the call ends. */
  callSignal: AbortSignal;
  /** Setup's caller-facing deadline, armed at START (the attach). */
  deadline: ConnectDeadline;
  isFallingBack(): boolean;
  fallback(reason: string): void;
}

export class CallSetup {
  private loadedPrompt: ResolvedPrompt | undefined;
  private direction: 'inbound' | 'outbound' = 'inbound';

  constructor(private readonly deps: CallSetupDeps) {}

  /** The call's prompt, with the tools it can run, once loaded. */
  get prompt(): ResolvedPrompt | undefined {
    return this.loadedPrompt;
  }

  /** The caller began to wait (START, or a hand-over): a session still being set up must be ready by the deadline. */
  callerWaiting(sinceEpochMs: number): void {
    if (this.deps.state.phase === 'setup') this.deps.deadline.arm(sinceEpochMs);
  }

  /** Sets the call up; never throws (failures become the fallback). */
  async run(): Promise<void> {
    const { deps } = this;
    await this.setUp();
    // Warm and failed (before the caller came, or not): the fallback waits in the channel for the
    // gateway, but a call that never starts (unanswered, no stream) must still give its slot and its
    // owner key back. An attached call returns at once: its stop ends it as usual.
    if (deps.mode === 'warm' && deps.isFallingBack() && !deps.state.finished) await this.awaitCallerOrLetGo();
  }

  private async setUp(): Promise<void> {
    const { deps } = this;
    const { state, attachment, live } = deps;
    const { stats } = state;
    stats.greetingPath = deps.mode;
    try {
      // Cold: the gateway attaches right after this bridge answered its claim. Warm: the phone still rings.
      const attach =
        deps.mode === 'cold' ? await attachment.waitForAttach(deps.openaiConfig.connectTimeoutMs) : undefined;
      // Stopped while waiting (the call was let go): nothing more to do.
      if (state.finished) return;
      if (deps.mode === 'cold' && !attach)
        return deps.ending.release('no_attach', 'claimed call was never attached by its gateway; releasing it');
      // Taken over mid-call: what was said so far comes from the record the old bridge wrote.
      if (attach?.handover) await loadConversation(deps.redis, deps.callSid, deps.conversation, deps.logger);
      const meta = await readCallMeta(deps.redis, deps.callSid);
      // Resumed: the caller heard another bridge's greeting (unless nothing had been said: LiveStart).
      if (attach?.handover) {
        stats.greetedElsewhere = true;
        stats.greetingPath = meta?.greetingPath;
      }
      state.businessId = meta?.businessId ?? attach?.params.businessId ?? '';
      state.callerNumber = meta?.from ?? '';
      const direction = meta?.direction ?? (attach?.params.direction === 'outbound' ? 'outbound' : 'inbound');
      this.direction = direction;

      stats.connectStartedAt = Date.now();
      const budget = { attempts: deps.openaiConfig.connectAttempts, timeoutMs: deps.openaiConfig.connectTimeoutMs };
      const signal = AbortSignal.any([deps.callSignal, deps.deadline.signal]);
      const [opened, prompt] = await Promise.allSettled([
        openSession(deps.sessionSetup, deps.hooks, budget, signal),
        this.loadPrompt(direction),
      ]);
      if (state.finished) {
        // The call ended (or was let go) while the prompt was awaited: its stop found no session to
        // close, so this one would stay open until the model's own session limit.
        if (opened.status === 'fulfilled') opened.value.rt.close({ code: 1000, reason: 'call ended during set-up' });
        return;
      }
      if (opened.status === 'rejected') {
        // call.metrics counts the attempts that failed too, not only a successful one's number.
        stats.connectAttempts = opened.reason instanceof OpenAIConnectError ? opened.reason.attempts : 0;
        return this.onConnectFailed(opened.reason);
      }
      state.rt = opened.value.rt;
      stats.connectedAt = Date.now();
      state.sessionOpenedAt = stats.connectedAt;
      stats.connectAttempts = opened.value.attempts;
      if (prompt.status === 'rejected') {
        deps.logger.error('prompt unavailable', errorFields(prompt.reason));
        return deps.fallback('PROMPT_UNAVAILABLE');
      }
      this.loadedPrompt = runnableTools(prompt.value, deps.callControl !== undefined);
      if (state.phase !== 'setup') return;
      stats.configureSentAt = Date.now();
      const resuming = attach?.handover !== undefined;
      const configured = await configureSession(
        deps.sessionSetup,
        state.rt,
        this.loadedPrompt,
        deps.model.armSessionUpdated(),
        deps.conversation,
        resuming,
        signal,
      );
      stats.configuredAt = Date.now();
      stats.toolsCount = configured.tools;
      if (state.phase !== 'setup' || deps.isFallingBack()) return;
      deps.deadline.disarm();
      if (attach?.handover) return live.resumeHandedOver(attach.handover, configured.replayed);
      this.recordGreetingPath(deps.mode);
      if (deps.mode === 'cold') live.goLive('greeting');
      else await this.warmUntilAttached();
    } catch (err) {
      if (state.finished) return;
      if (err instanceof OpenAIConnectError && err.reason === 'OPENAI_CONNECT_DEADLINE')
        return this.onConnectFailed(err);
      deps.logger.error('call setup failed', errorFields(err));
      deps.fallback(err instanceof OpenAIConnectError ? err.reason : 'SETUP_ERROR');
    }
  }

  /** Warm: ask for the greeting now; its audio is held in the channel until the gateway attaches. */
  private async warmUntilAttached(): Promise<void> {
    const { deps } = this;
    const { state, live } = deps;
    state.phase = 'warm';
    live.requestGreeting();
    void deps.tl.record('warm.ready', { ms: Date.now() - state.stats.claimedAt });
    const attach = await this.awaitCallerOrLetGo();
    // Gone to the fallback while it rang (the greeting refused, the model dropped): the caller gets
    // the fallback waiting in the channel, not a model session listening to them.
    if (!attach || state.phase !== 'warm' || deps.isFallingBack()) return;
    const greetingReady = state.stats.modelFirstAudioAt !== undefined;
    const buffered = live.goLive('resume-after-warm');
    // One entry for both: joining a warm session is where its audio starts flowing both ways.
    void deps.tl.record('warm.joined', {
      greeting_ready: greetingReady,
      waited_ms: Date.now() - state.stats.claimedAt,
      buffered_frames: buffered,
    });
  }

  /**
   * Warm: waits for the gateway to attach the call (START). A call that never starts is let go at
   * WARM_SESSION_TTL_MS, or as soon as an outbound one ended unanswered (its meta is deleted):
   * undefined then, and the session is closed and its keys deleted (CallEnding.expireWarm).
   */
  private async awaitCallerOrLetGo(): Promise<AttachRecord | undefined> {
    const { deps } = this;
    const callOver =
      this.direction === 'outbound'
        ? {
            everyMs: deps.config.outboundWarmCheckMs,
            isOver: async () => !(await deps.ownership.notOver(deps.callSid)),
          }
        : undefined;
    const attach = await deps.attachment.waitForAttach(deps.config.warmSessionTtlMs, callOver);
    if (!attach) await deps.ending.expireWarm(deps.attachment.callWasOver ? 'call_over' : 'ttl');
    return attach;
  }

  /** For a bridge the call may move to: call.metrics then names the greeting the caller heard. */
  private recordGreetingPath(path: GreetingPath): void {
    const { deps } = this;
    recordGreetingPath(deps.redis, deps.callSid, path).catch((err: unknown) =>
      deps.logger.warn('greeting path not recorded on the call meta', errorFields(err)),
    );
  }

  private loadPrompt(direction: 'inbound' | 'outbound'): Promise<ResolvedPrompt> {
    const { deps } = this;
    return loadCallPrompt(
      {
        redis: deps.redis,
        businesses: deps.businesses,
        waitMs: deps.config.promptWaitMs,
        pollMs: deps.config.promptPollMs,
      },
      { callSid: deps.callSid, businessId: deps.state.businessId || undefined, direction },
      deps.state.stats,
      deps.logger,
      deps.callSignal,
    );
  }

  private onConnectFailed(reason: unknown): void {
    const { deps } = this;
    if (deps.state.phase !== 'setup' || deps.isFallingBack()) return; // the caller hung up while we were connecting
    deps.fallback(recordConnectFailure(deps, reason));
  }
}
