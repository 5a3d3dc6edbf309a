/**
 * One call owned by this bridge: opens the Realtime session, configures it with
 * the call's prompt, makes the agent greet first, and moves audio both ways
 * between the gateway's media link and the model, with barge-in.
 *
 * Lifecycle: run() (setup) -> [warm ->] live [-> reconnecting -> live] -> end()
 * on the gateway's `stop`. The caller is never left in silence: the hold clip
 * plays while the model is slow, and a model that cannot be reached (or
 * resumed) within OPENAI_CONNECT_DEADLINE_MS of the caller starting to wait
 * (connect-deadline.ts) sends the caller to the fallback. A gateway that vanishes gets
 * GATEWAY_REATTACH_GRACE_MS to come back through another gateway; after that
 * the model session is closed and the call finalized.
 *
 * Composed, not inherited (STYLE 15): CallState is the shared state; the
 * caller side (CallerStream in, GatewayChannel out), the model side
 * (ModelEvents) and the per-call timeline are collaborators around it.
 */
import type OpenAI from 'openai';
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { AttachRecord, BridgeSideLink, Handover, StopRecord } from '@voice/media-link';
import { FRAME_MS } from '@voice/protocols';
import { callKeys, readCallMeta, type ConversationWriter, type RedisClient, type Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import type { CallControl } from '../twilio/call-control.js';
import type { CallOwnership } from '../call-ownership.js';
import { AgentControl, runnableTools } from './agent-control.js';
import { loadConversation, recordResumed, resumeReply } from './call-resume.js';
import { CallerStream } from './caller-stream.js';
import { CallState } from './call-state.js';
import { callTimeline, type CallTimeline } from './call-timeline.js';
import { ConnectDeadline } from './connect-deadline.js';
import { ConversationRecord } from './conversation-record.js';
import { DtmfInput } from './dtmf-input.js';
import { fallbackToCaller, recordConnectFailure, recordSilentResponse } from './fallback.js';
import { finalizeCall, type StopEntry } from './finalize-call.js';
import { GatewayChannel } from './gateway-channel.js';
import { HoldAudio } from './hold-audio.js';
import { ModelEvents } from './model-events.js';
import { PlaybackTracker } from './playback-tracker.js';
import { loadCallPrompt, type ResolvedPrompt } from './prompt-source.js';
import { configureSession, openSession, type SetupDeps } from './session-setup.js';
import { SessionRecycler } from './session-recycler.js';
import { SilenceWatch } from './silence-watch.js';
import type { ToolExecutor } from './tool-executor.js';
import { ToolTurns } from './tool-turns.js';

export interface CallSessionDeps {
  /** warm: claimed when the prebuild ran, before START; cold: claimed on START. */
  mode: 'warm' | 'cold';
  /** Set when this bridge took the call over from an owner whose link died. */
  takeoverFrom?: string;
  callSid: string;
  instanceId: string;
  config: CallConfig;
  openaiConfig: OpenAIConfig;
  openai: OpenAI;
  redis: RedisClient;
  ownership: CallOwnership;
  timeline: Timeline;
  /** Appends to calls' conversation records (call:{CA}:conversation). */
  conversations: ConversationWriter;
  logger: Logger;
  metrics: BridgeMetrics;
  businesses: BusinessRepository;
  calls: CallRepository;
  tools: ToolExecutor;
  callControl: CallControl | undefined;
  onFinished(session: CallSession): void;
}

export class CallSession {
  readonly callSid: string;
  readonly channel: GatewayChannel;
  readonly caller: CallerStream;
  private readonly state = new CallState();
  private readonly tl: CallTimeline;
  private readonly model: ModelEvents;
  private readonly playback: PlaybackTracker;
  private readonly hold: HoldAudio;
  private readonly silence: SilenceWatch;
  private readonly conversation: ConversationRecord;
  private readonly recycler: SessionRecycler;
  private readonly agentControl: AgentControl;
  private readonly dtmf: DtmfInput;
  private readonly setup: SetupDeps;
  private readonly abort = new AbortController();
  /** Setup's caller-facing deadline, armed at START (the attach). */
  private readonly setupDeadline: ConnectDeadline;
  private prompt: ResolvedPrompt | undefined;
  private attachRecord: AttachRecord | undefined;
  private attachWaiter: ((record: AttachRecord) => void) | undefined;
  private reattachTimer: NodeJS.Timeout | undefined;
  /** While the call has no gateway: which one went away, and when (for call.reattached). */
  private detached: { gateway: string; at: number } | undefined;
  /**
   * What the call's earlier streams carried, as this bridge counted it, once a gateway went away: a
   * re-attached call's last stop counts only its own stream, and the call's totals add these.
   */
  private earlierStreams: { rx: number; tx: number; firstAudioAt: number | undefined } | undefined;
  private fallingBack = false;
  private direction: 'inbound' | 'outbound' = 'inbound';
  /** Set when a warm outbound call ended before it was answered (its meta is gone). */
  private warmCallOver = false;
  /** When shutdown first wanted this call moved, and last asked the gateway to (askToMove). */
  private moveWantedAt: number | undefined;
  private moveAskedAt: number | undefined;

  constructor(private readonly deps: CallSessionDeps) {
    const { config, logger, metrics } = deps;
    this.callSid = deps.callSid;
    this.tl = callTimeline(deps.timeline, deps.callSid, logger);
    this.setup = { ...deps };
    this.setupDeadline = new ConnectDeadline(deps.openaiConfig.connectDeadlineMs);
    this.conversation = new ConversationRecord(deps.callSid, deps.conversations, logger);
    this.channel = new GatewayChannel(config.maxHeldRecords, logger);
    this.caller = new CallerStream(
      {
        onAttach: (r) => this.onAttach(r),
        onMark: (n) => this.onMarkEchoed(n),
        onDtmf: (d) => this.dtmf.onDigit(d),
        onStop: (r) => this.onStop(r),
      },
      config.maxPendingCallerFrames,
      metrics,
      logger,
      Math.ceil(config.vad.prefixPaddingMs / FRAME_MS),
    );
    this.playback = new PlaybackTracker(config.bargeInMarginMs);
    const setHold = (on: boolean) => {
      // Counted for call.abandoned: the caller was told to hold (the gateway loops the clip).
      if (on) this.state.stats.holdClips++;
      this.channel.send({ t: 'hold', on });
    };
    this.hold = new HoldAudio(setHold, config.holdAudioAfterMs);
    this.silence = new SilenceWatch(config.silentResponseMs, (responseId) =>
      recordSilentResponse(deps, responseId, config.silentResponseMs),
    );
    const sendLive = (event: RealtimeClientEvent): boolean => {
      if (this.state.phase !== 'live' || !this.state.rt) return false;
      this.state.rt.send(event);
      return true;
    };
    const hasActiveResponse = (): boolean => this.state.activeResponseId !== undefined;
    this.agentControl = new AgentControl({
      tl: this.tl,
      channel: this.channel,
      callControl: deps.callControl,
      stats: this.state.stats,
      logger,
      send: sendLive,
      isLive: () => this.state.phase === 'live',
    });
    this.dtmf = new DtmfInput({
      tl: this.tl,
      enabled: () => this.prompt?.prompt.dtmfEnabled,
      send: sendLive,
      hasActiveResponse,
      recordTurn: (text) => this.conversation.append({ kind: 'caller', text, item_id: '' }),
    });
    const toolTurns = new ToolTurns({
      ...deps,
      send: sendLive,
      context: () => ({
        callSid: deps.callSid,
        businessId: this.state.businessId,
        callerNumber: this.state.callerNumber,
      }),
      hasActiveResponse,
      conversation: this.conversation,
      onControl: (control, call) => this.agentControl.onControl(control, call),
    });
    this.model = new ModelEvents({
      state: this.state,
      channel: this.channel,
      playback: this.playback,
      hold: this.hold,
      silence: this.silence,
      conversation: this.conversation,
      toolTurns,
      transcribing: config.inputTranscriptionModel !== '',
      agentControl: this.agentControl,
      dtmf: this.dtmf,
      tl: this.tl,
      metrics,
      logger,
    });
    this.recycler = new SessionRecycler({
      state: this.state,
      caller: this.caller,
      playback: this.playback,
      toolTurns,
      hold: this.hold,
      conversation: this.conversation,
      tl: this.tl,
      logger,
      config: config.session,
      open: async () => {
        const budget = { attempts: config.reconnectAttempts || 1, timeoutMs: config.reconnectTimeoutMs };
        return (await openSession(this.setup, this, budget, this.abort.signal)).rt;
      },
      configure: (rt, updated) => configureSession(this.setup, rt, this.prompt!, updated, this.conversation, true),
      onResumeFailed: () => this.fallback('OPENAI_CLOSED'),
    });
  }

  get finished(): boolean {
    return this.state.finished;
  }

  /** Sets the call up; never throws (failures become the fallback). */
  async run(): Promise<void> {
    const { deps, state } = this;
    const { stats } = state;
    stats.greetingPath = deps.mode;
    try {
      // Cold: the gateway attaches right after this bridge answered its claim. Warm: the phone still rings.
      const attach = deps.mode === 'cold' ? await this.waitForAttach(deps.openaiConfig.connectTimeoutMs) : undefined;
      if (deps.mode === 'cold' && !attach)
        return this.release('no_attach', 'claimed call was never attached by its gateway; releasing it');
      // Taken over mid-call: what was said so far comes from the record the old bridge wrote.
      if (attach?.handover) await loadConversation(deps.redis, deps.callSid, this.conversation, deps.logger);
      const meta = await readCallMeta(deps.redis, deps.callSid);
      state.businessId = meta?.businessId ?? attach?.params.businessId ?? '';
      state.callerNumber = meta?.from ?? '';
      const direction = meta?.direction ?? (attach?.params.direction === 'outbound' ? 'outbound' : 'inbound');
      this.direction = direction;

      stats.connectStartedAt = Date.now();
      const budget = { attempts: deps.openaiConfig.connectAttempts, timeoutMs: deps.openaiConfig.connectTimeoutMs };
      const signal = AbortSignal.any([this.abort.signal, this.setupDeadline.signal]);
      const [opened, prompt] = await Promise.allSettled([
        openSession(this.setup, this, budget, signal),
        this.loadPrompt(direction),
      ]);
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
        return this.fallback('PROMPT_UNAVAILABLE');
      }
      this.prompt = runnableTools(prompt.value, deps.callControl !== undefined);
      if (state.phase !== 'setup') return;
      stats.configureSentAt = Date.now();
      const resuming = attach?.handover !== undefined;
      const configured = await configureSession(
        this.setup,
        state.rt,
        this.prompt,
        this.model.armSessionUpdated(),
        this.conversation,
        resuming,
        signal,
      );
      stats.configuredAt = Date.now();
      stats.toolsCount = configured.tools;
      if (state.phase !== 'setup' || this.fallingBack) return;
      this.setupDeadline.disarm();
      if (attach?.handover) this.resumeHandedOver(attach.handover, configured.replayed);
      else if (deps.mode === 'cold') this.goLive('greeting');
      else await this.warmUntilAttached();
    } catch (err) {
      if (state.finished) return;
      if (err instanceof OpenAIConnectError && err.reason === 'OPENAI_CONNECT_DEADLINE')
        return this.onConnectFailed(err);
      deps.logger.error('call setup failed', errorFields(err));
      this.fallback(err instanceof OpenAIConnectError ? err.reason : 'SETUP_ERROR');
    }
  }

  // ---- the caller side: the gateway attaches, detaches, sends stop ----

  /** A gateway attached the call on `link` as channel `ch` (first START, or after another gateway died). */
  attach(link: BridgeSideLink, record: AttachRecord): void {
    const previous = this.channel.attached;
    clearTimeout(this.reattachTimer);
    this.reattachTimer = undefined;
    const held = this.channel.attach({ link, ch: record.ch });
    if (previous && previous.link !== link)
      this.deps.logger.info('call attached through another gateway', { gateway: record.gateway, held });
    const reattached = this.attachRecord !== undefined;
    const detached = this.detached;
    this.detached = undefined;
    // The same model session carries on: no greeting, the conversation goes on where it was.
    if (detached)
      void this.tl.record('call.reattached', {
        from_gateway: detached.gateway,
        to_gateway: record.gateway,
        gap_ms: Date.now() - detached.at,
        held_records: held,
      });
    this.caller.attach(record);
    if (reattached) this.agentControl.onStreamReplaced();
  }

  /** The link to the gateway holding the call closed: wait for the stream to come back, briefly. */
  gatewayLost(gateway: string, reason: string): void {
    if (this.state.finished) return;
    this.channel.detach();
    this.detached ??= { gateway, at: Date.now() };
    this.earlierStreams = {
      rx: this.caller.received,
      tx: this.channel.mediaSent,
      firstAudioAt: this.channel.firstMediaSentAt,
    };
    void this.tl.record(
      'link.detached',
      { gateway, reason, grace_ms: this.deps.config.gatewayReattachGraceMs },
      'warn',
    );
    clearTimeout(this.reattachTimer);
    this.reattachTimer = setTimeout(() => this.onGatewayGone(), this.deps.config.gatewayReattachGraceMs);
    this.reattachTimer.unref();
  }

  /** Redis is back after an outage (maybe empty): rebuild what it lost of this call's conversation record. */
  redisBack(): void {
    if (!this.finished) void this.conversation.resync();
  }

  /** Shutting down with the call live: fallback now; the gateway's stop then ends the call. */
  handOff(reason: string): void {
    this.fallback(reason);
  }

  /**
   * Shutting down: asks the gateway to move the call to another bridge (`rehome`), again every
   * `retryMs` while it is still here. Asked between the agent's replies, so a reply is not cut by
   * the switch, unless one has lasted `replyWaitMs`. Returns 'waiting' while it waits for a reply to end.
   */
  askToMove(timings: { retryMs: number; replyWaitMs: number }): 'asked' | 'waiting' | 'not_live' {
    const { state } = this;
    if (state.phase !== 'live' || this.fallingBack || !this.channel.attached) return 'not_live';
    const now = Date.now();
    this.moveWantedAt ??= now;
    if (state.activeResponseId !== undefined && now - this.moveWantedAt < timings.replyWaitMs) return 'waiting';
    if (this.moveAskedAt !== undefined && now - this.moveAskedAt < timings.retryMs) return 'asked';
    this.moveAskedAt = now;
    this.channel.send({ t: 'rehome' });
    return 'asked';
  }

  private onAttach(record: AttachRecord): void {
    const { stats } = this.state;
    this.attachRecord ??= record;
    stats.streamStartedAt ??= record.startedAt;
    // Taken over: the caller waits from the hand-over on (the gateway already holds if the old bridge died).
    const waitingSince = record.handover?.at ?? record.startedAt;
    if (record.handover && !record.handover.planned) this.hold.playNow();
    else if (stats.modelFirstAudioAt === undefined) this.hold.start(waitingSince);
    // The caller is waiting: a session still being set up must be ready by the deadline.
    if (this.state.phase === 'setup') this.setupDeadline.arm(waitingSince);
    this.attachWaiter?.(record);
  }

  /** Twilio echoed a mark: what the caller heard so far (barge-in), and whether the agent's last words were heard. */
  private onMarkEchoed(name: string): void {
    this.playback.onMarkEchoed(name);
    this.agentControl.onMarkEchoed(name);
  }

  private onStop(record: StopRecord): void {
    // A stop before any attach: the call failed before it began (the gateway recorded it); just let go.
    if (!this.attachRecord) void this.expireWarm(record.reason);
    else void this.end(record);
  }

  private onGatewayGone(): void {
    if (this.state.finished) return;
    const { channel, caller } = this;
    void this.end({
      reason: 'gateway_lost',
      rx: caller.received,
      tx: channel.mediaSent,
      txBytes: 0,
      endedAt: Date.now(),
      invalidMessages: 0,
    });
  }

  // ---- setup ----

  /** Warm: ask for the greeting now; its audio is held in the channel until the gateway attaches. */
  private async warmUntilAttached(): Promise<void> {
    const { deps, state } = this;
    state.phase = 'warm';
    this.requestGreeting();
    void this.tl.record('warm.ready', { ms: Date.now() - state.stats.claimedAt });
    // An outbound call that ends unanswered never attaches: notice it (its meta is deleted) rather than wait for the TTL.
    const callOver =
      this.direction === 'outbound'
        ? {
            everyMs: deps.config.outboundWarmCheckMs,
            isOver: async () => !(await deps.ownership.notOver(deps.callSid)),
          }
        : undefined;
    const attach = await this.waitForAttach(deps.config.warmSessionTtlMs, callOver);
    if (!attach) return this.expireWarm(this.warmCallOver ? 'call_over' : 'ttl');
    if (state.phase !== 'warm') return;
    const greetingReady = state.stats.modelFirstAudioAt !== undefined;
    const buffered = this.goLive('resume-after-warm');
    // One entry for both: joining a warm session is where its audio starts flowing both ways.
    void this.tl.record('warm.joined', {
      greeting_ready: greetingReady,
      waited_ms: Date.now() - state.stats.claimedAt,
      buffered_frames: buffered,
    });
  }

  /** The call never arrived (TTL) or failed before START (no_start): close the model session, leave only the timeline. */
  private async expireWarm(reason: string): Promise<void> {
    const { deps, state } = this;
    if (state.finished) return;
    deps.metrics.warmExpired.inc({ reason });
    void this.tl.record('warm.expired', { reason, ttl_ms: deps.config.warmSessionTtlMs }, 'warn');
    state.phase = 'ending';
    this.channel.close();
    state.rt?.close({ code: 1000, reason: 'warm session expired' });
    this.recycler.stop();
    await deps.ownership.deleteCallKeys(deps.callSid);
    // The call never happened: its record holds only the warm session's settings.
    await deps.redis.del(callKeys.conversation(deps.callSid)).catch(() => undefined);
    this.release();
  }

  private release(reason?: string, warning?: string): void {
    const { deps, state } = this;
    if (warning) deps.logger.warn(warning);
    if (reason) void this.tl.record('bridge.released', { reason }, 'warn');
    state.phase = 'ended';
    this.abort.abort();
    this.setupDeadline.disarm();
    this.hold.stop();
    this.silence.stop();
    this.recycler.stop();
    clearTimeout(this.reattachTimer);
    this.channel.close();
    this.caller.close();
    state.rt?.close({ code: 1000, reason: 'released' });
    // Let go of the owner key only where it is still ours (after a hand-over it is not).
    if (reason === 'no_attach') void deps.ownership.release(deps.callSid);
    deps.onFinished(this);
  }

  private waitForAttach(
    timeoutMs: number,
    callOver?: { everyMs: number; isOver: () => Promise<boolean> },
  ): Promise<AttachRecord | undefined> {
    if (this.attachRecord) return Promise.resolve(this.attachRecord);
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
                if (!over || this.attachRecord) return;
                this.warmCallOver = true;
                done(undefined);
              },
              (err: unknown) => this.deps.logger.warn('warm call check failed', errorFields(err)),
            );
          }, callOver.everyMs)
        : undefined;
      this.attachWaiter = done;
    });
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
      { callSid: deps.callSid, businessId: this.state.businessId || undefined, direction },
      this.state.stats,
      deps.logger,
      this.abort.signal,
    );
  }

  /** The agent is asked to speak first; its first response is the greeting (warm.ready says so on the warm path). */
  private requestGreeting(): void {
    const { state } = this;
    state.greetingPending = true;
    state.stats.greetingRequestedAt = Date.now();
    state.rt!.send({ type: 'response.create' });
  }

  /**
   * A call taken over from another bridge goes live on a session given the conversation so far:
   * no greeting, unless nothing had been said; a reply the caller was owed (cut by the old
   * bridge's death) is asked for again; else the session listens and the caller's hold ends.
   */
  private resumeHandedOver(handover: Handover, replayed: number): void {
    const reply = resumeReply(this.conversation);
    this.goLive(reply === 'greeted' ? 'greeting' : 'handover');
    if (reply === 'reasked') this.state.rt!.send({ type: 'response.create' });
    if (reply === 'none') this.hold.stop();
    void recordResumed(this.tl, handover, this.deps.instanceId, replayed, reply);
  }

  /** Audio flows both ways; caller frames that arrived meanwhile go to the model in order. Returns how many. */
  private goLive(kind: 'greeting' | 'resume' | 'resume-after-warm' | 'handover'): number {
    const { state } = this;
    state.phase = 'live';
    if (kind === 'greeting') this.requestGreeting();
    // After a dropped session the agent picks the conversation up again.
    if (kind === 'resume') state.rt!.send({ type: 'response.create' });
    const rt = state.rt!;
    const buffered = this.caller.connect((audio) => rt.send({ type: 'input_audio_buffer.append', audio }));
    this.recycler.start();
    // Cold: greeting requested and audio flowing, one entry (warm.joined carries it on the warm path).
    if (kind === 'greeting')
      void this.tl.record('audio_bridge.started', { buffered_frames: buffered, greeting_requested: true });
    return buffered;
  }

  // ---- the model side: session hooks (events go to ModelEvents) ----

  onEvent(rt: OpenAIRealtimeWS, event: Parameters<ModelEvents['onEvent']>[1]): void {
    if (this.recycler.owns(rt)) this.recycler.onCandidateEvent(event);
    else this.model.onEvent(rt, event);
  }

  onClosed(rt: OpenAIRealtimeWS, code: number, reason: string): void {
    const { state } = this;
    if (this.recycler.owns(rt) && !state.finished) return this.recycler.onCandidateClosed(code, reason);
    if (rt !== state.rt || state.finished || this.fallingBack) return;
    // The server's session limit: expected on a long call, resumed on a new session (session.recycled says so).
    if (state.sessionExpired && state.phase === 'live' && this.prompt) return void this.recycler.resumeAfterExpiry();
    void this.tl.record('openai.closed', { code, reason, state: state.phase }, 'warn');
    if (state.phase === 'live' && this.prompt && this.deps.config.reconnectAttempts > 0)
      void this.reconnect(this.prompt);
    else this.fallback('OPENAI_CLOSED');
  }

  // ---- failure paths ----

  private onConnectFailed(reason: unknown): void {
    if (this.state.phase !== 'setup' || this.fallingBack) return; // the caller hung up while we were connecting
    this.fallback(recordConnectFailure(this.deps, reason));
  }

  /**
   * The model dropped mid-call: the caller hears the hold clip while a new session resumes the
   * conversation, within RECONNECT_* and, caller-facing, OPENAI_CONNECT_DEADLINE_MS from the drop.
   */
  private async reconnect(prompt: ResolvedPrompt): Promise<void> {
    const { deps, state } = this;
    state.phase = 'reconnecting';
    state.rt = undefined;
    this.caller.disconnect();
    state.activeResponseId = undefined;
    this.agentControl.onSessionReplaced();
    this.hold.playNow();
    const started = Date.now();
    const deadline = new ConnectDeadline(deps.openaiConfig.connectDeadlineMs);
    deadline.arm(started);
    const signal = AbortSignal.any([this.abort.signal, deadline.signal]);
    void this.tl.record('openai.reconnecting', { items: this.conversation.itemCount }, 'warn');
    try {
      const budget = { attempts: deps.config.reconnectAttempts, timeoutMs: deps.config.reconnectTimeoutMs };
      const opened = await openSession(this.setup, this, budget, signal);
      if (state.phase !== 'reconnecting') return opened.rt.close();
      state.rt = opened.rt;
      state.sessionOpenedAt = Date.now();
      const configured = await configureSession(
        this.setup,
        opened.rt,
        prompt,
        this.model.armSessionUpdated(),
        this.conversation,
        true,
        signal,
      );
      if (state.phase !== 'reconnecting') return;
      void this.tl.record('openai.reconnected', { ms: Date.now() - started, items: configured.replayed });
      this.goLive('resume');
    } catch (err) {
      if (state.phase !== 'reconnecting') return;
      if (err instanceof OpenAIConnectError && err.reason === 'OPENAI_CONNECT_DEADLINE')
        return this.fallback(recordConnectFailure(deps, err));
      deps.logger.error('could not resume the conversation', errorFields(err));
      this.fallback('OPENAI_CLOSED');
    } finally {
      deadline.disarm();
    }
  }

  /** The caller must never sit in silence: fallback clip, then the TwiML after </Connect> (or a transfer). */
  private fallback(reason: string): void {
    const { deps, state } = this;
    if (this.fallingBack || state.finished) return;
    this.fallingBack = true;
    this.hold.stop();
    this.recycler.stop();
    state.stats.fallbackReason = reason;
    deps.metrics.fallbacks.inc({ reason });
    void fallbackToCaller(
      { channel: this.channel, callControl: deps.callControl, config: deps.config, tl: this.tl, logger: deps.logger },
      reason,
    );
  }

  /** The call's counts across every stream it had (a stop from the gateway counts only its own stream). */
  private wholeCall(stop: StopEntry): StopEntry {
    const earlier = this.earlierStreams;
    // gateway_lost is built from this bridge's own totals, which already span every stream.
    if (!earlier || stop.reason === 'gateway_lost') return stop;
    return {
      ...stop,
      rx: earlier.rx + stop.rx,
      tx: earlier.tx + stop.tx,
      firstAudioAt: earlier.firstAudioAt ?? stop.firstAudioAt,
    };
  }

  /** Ends the call once the gateway reports the stream stopped (or it vanished for good). */
  private async end(stop: StopEntry): Promise<void> {
    const { deps, state } = this;
    if (state.finished) return;
    state.phase = 'ending';
    this.abort.abort();
    this.setupDeadline.disarm();
    this.hold.stop();
    this.silence.stop();
    this.recycler.stop();
    clearTimeout(this.reattachTimer);
    this.caller.close();
    this.channel.close();
    state.rt?.close({ code: 1000, reason: 'call ended' });
    try {
      // A call handed to another bridge is finalized there, once; one whose gateway finished it
      // itself while this bridge was out of reach (its meta is gone) is not finalized twice.
      if (stop.reason === 'handed_over') void this.tl.record('bridge.released', { reason: 'handed_over' });
      else if (!(await deps.ownership.isOwner(deps.callSid)))
        void this.tl.record('bridge.released', { reason: 'not_owner_at_end' }, 'warn');
      else if (stop.reason === 'gateway_lost' && !(await deps.ownership.notOver(deps.callSid)))
        void this.tl.record('bridge.released', { reason: 'finished_by_gateway' }, 'warn');
      else await finalizeCall(deps, deps.callSid, state.stats, this.wholeCall(stop), this.conversation);
    } catch (err) {
      deps.logger.error('call finalize failed', errorFields(err));
    } finally {
      state.phase = 'ended';
      deps.onFinished(this);
    }
  }
}
