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
 * caller side (CallerStream in, GatewayChannel out, GatewayAttachment), the
 * model side (ModelEvents), the setup path (CallSetup), going live
 * (LiveStart), a reconnect after a model drop (ModelReconnect), the end of
 * the call (CallEnding) and the per-call timeline are collaborators around it.
 * This class wires them and is the call's face to the rest of the bridge.
 */
import type OpenAI from 'openai';
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import type { AttachRecord, BridgeSideLink, StopRecord } from '@voice/media-link';
import { FRAME_MS } from '@voice/protocols';
import type { ConversationWriter, RedisClient, Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import type { CallControl } from '../twilio/call-control.js';
import type { CallOwnership } from '../call-ownership.js';
import { AgentControl } from './agent-control.js';
import { CallEnding } from './call-ending.js';
import { CallerStream } from './caller-stream.js';
import { CallSetup } from './call-setup.js';
import { CallState } from './call-state.js';
import { callTimeline, type CallTimeline } from './call-timeline.js';
import { ConnectDeadline } from './connect-deadline.js';
import { ConversationRecord } from './conversation-record.js';
import { DtmfInput } from './dtmf-input.js';
import { fallbackToCaller, recordSilentResponse } from './fallback.js';
import { GatewayAttachment } from './gateway-attachment.js';
import { GatewayChannel } from './gateway-channel.js';
import { GreetingGuard } from './greeting-guard.js';
import { HoldAudio } from './hold-audio.js';
import { LiveStart } from './live-start.js';
import { ModelEvents } from './model-events.js';
import { ModelReconnect } from './model-reconnect.js';
import { MoveRequest, type MoveAnswer } from './move-request.js';
import { PlaybackTracker } from './playback-tracker.js';
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
  private readonly attachment: GatewayAttachment;
  private readonly live: LiveStart;
  private readonly ending: CallEnding;
  private readonly callSetup: CallSetup;
  private readonly modelReconnect: ModelReconnect;
  private readonly sessionSetup: SetupDeps;
  private readonly abort = new AbortController();
  /** Setup's caller-facing deadline, armed at START (the attach). */
  private readonly setupDeadline: ConnectDeadline;
  private readonly moveRequest: MoveRequest;
  private fallingBack = false;

  constructor(private readonly deps: CallSessionDeps) {
    const { config, logger, metrics } = deps;
    this.callSid = deps.callSid;
    this.tl = callTimeline(deps.timeline, deps.callSid, logger);
    this.sessionSetup = { ...deps };
    this.setupDeadline = new ConnectDeadline(deps.openaiConfig.connectDeadlineMs);
    this.conversation = new ConversationRecord(deps.callSid, deps.conversations, logger);
    this.channel = new GatewayChannel(config.maxHeldRecords, logger);
    this.caller = new CallerStream(
      {
        onAttach: (r) => this.onAttach(r),
        onMark: (n) => this.onMarkEchoed(n),
        // A key on its way here when the gateway began moving the call goes back to it (MoveRequest).
        onDtmf: (d) => {
          if (!this.moveRequest.giveBackKey(d)) this.dtmf.onDigit(d);
        },
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
      if (event.type === 'response.create') this.state.responseRequestedAt = Date.now();
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
      enabled: () => this.callSetup.prompt?.prompt.dtmfEnabled,
      send: sendLive,
      hasActiveResponse,
      recordTurn: (text) => this.conversation.append({ kind: 'caller', text, item_id: '' }),
      entryGapMs: config.dtmfEntryGapMs,
    });
    const greeting = new GreetingGuard({
      ask: (event) => {
        // The next response.created is the greeting; a session lost meanwhile greets when it is back (LiveStart).
        this.state.greetingPending = true;
        this.state.rt?.send(event);
      },
      onFailure: (failure) => {
        logger.warn('greeting failed', { ...failure });
        void this.tl.record('greeting.failed', { ...failure }, 'warn');
      },
      giveUp: (reason) => this.fallback(reason),
    });
    const toolTurns = new ToolTurns({
      ...deps,
      timeoutMs: deps.config.toolTimeoutMs,
      send: sendLive,
      context: () => ({
        callSid: deps.callSid,
        businessId: this.state.businessId,
        callerNumber: this.state.callerNumber,
      }),
      hasActiveResponse,
      conversation: this.conversation,
      // Only a caller on the line of a live session waits (a warm call's tool cannot run before START).
      holdIfSlow: () => (this.channel.attached && this.state.phase === 'live' ? this.hold.startFromNow() : undefined),
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
      greeting,
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
        return (await openSession(this.sessionSetup, this, budget, this.abort.signal)).rt;
      },
      configure: (rt, updated) =>
        configureSession(this.sessionSetup, rt, this.callSetup.prompt!, updated, this.conversation, true),
      onResumeFailed: () => this.fallback('OPENAI_CLOSED'),
      onLive: () => this.dtmf.onLive(),
    });
    const shared = {
      state: this.state,
      channel: this.channel,
      caller: this.caller,
      hold: this.hold,
      recycler: this.recycler,
      conversation: this.conversation,
      tl: this.tl,
    };
    this.attachment = new GatewayAttachment({
      ...shared,
      agentControl: this.agentControl,
      logger,
      graceMs: config.gatewayReattachGraceMs,
      onGone: (stop) => void this.ending.end(stop),
    });
    this.live = new LiveStart({ ...shared, dtmf: this.dtmf, greeting, instanceId: deps.instanceId });
    this.ending = new CallEnding({
      ...deps,
      ...shared,
      abort: this.abort,
      setupDeadline: this.setupDeadline,
      silence: this.silence,
      dtmf: this.dtmf,
      attachment: this.attachment,
      onFinished: () => deps.onFinished(this),
    });
    const modelSide = {
      model: this.model,
      live: this.live,
      sessionSetup: this.sessionSetup,
      hooks: this,
      callSignal: this.abort.signal,
      fallback: (reason: string) => this.fallback(reason),
    };
    this.callSetup = new CallSetup({
      ...deps,
      ...shared,
      ...modelSide,
      attachment: this.attachment,
      ending: this.ending,
      deadline: this.setupDeadline,
      isFallingBack: () => this.fallingBack,
    });
    this.moveRequest = new MoveRequest({
      ...shared,
      isFallingBack: () => this.fallingBack,
      turnOpen: () => !toolTurns.idle || this.dtmf.entryOpen,
      takeOpenEntry: () => this.dtmf.takeOpenEntry(),
    });
    this.modelReconnect = new ModelReconnect({ ...deps, ...shared, ...modelSide, agentControl: this.agentControl });
  }

  get finished(): boolean {
    return this.state.finished;
  }

  /** Sets the call up; never throws (failures become the fallback). */
  run(): Promise<void> {
    return this.callSetup.run();
  }

  // ---- the caller side: the gateway attaches, detaches, sends stop ----

  /** A gateway attached the call on `link` as channel `ch` (first START, or after another gateway died). */
  attach(link: BridgeSideLink, record: AttachRecord): void {
    this.attachment.attach(link, record);
  }

  /** The link to the gateway holding the call closed: wait for the stream to come back, briefly. */
  gatewayLost(gateway: string, reason: string): void {
    this.attachment.gatewayLost(gateway, reason);
  }

  /** Redis is back after an outage (maybe empty): rebuild what it lost of this call's conversation record. */
  redisBack(): void {
    if (!this.finished) void this.conversation.resync();
  }

  /** Shutting down with the call live: fallback now; the gateway's stop then ends the call. */
  handOff(reason: string): void {
    // A warm session whose call has not started has nobody to play a fallback to: let it go instead.
    if (this.deps.mode === 'warm' && !this.attachment.started) void this.ending.letGoUnstarted();
    else this.fallback(reason);
  }

  /** Shutting down: asks the gateway to move the call to another bridge, between the agent's replies (MoveRequest). */
  askToMove(timings: { retryMs: number; replyWaitMs: number }): MoveAnswer {
    return this.moveRequest.askToMove(timings);
  }

  private onAttach(record: AttachRecord): void {
    const { stats } = this.state;
    stats.streamStartedAt ??= record.startedAt;
    // Taken over: the caller waits from the hand-over on (the gateway already holds if the old bridge died).
    const waitingSince = record.handover?.at ?? record.startedAt;
    if (record.handover && !record.handover.planned) this.hold.playNow();
    else if (stats.modelFirstAudioAt === undefined) this.hold.start(waitingSince);
    // The caller is waiting: a session still being set up must be ready by the deadline.
    this.callSetup.callerWaiting(waitingSince);
    this.attachment.onStarted(record);
  }

  /** Twilio echoed a mark: what the caller heard so far (barge-in), and whether the agent's last words were heard. */
  private onMarkEchoed(name: string): void {
    this.playback.onMarkEchoed(name);
    this.agentControl.onMarkEchoed(name);
  }

  private onStop(record: StopRecord): void {
    // A stop before any attach: the call failed before it began (the gateway recorded it); just let go.
    if (!this.attachment.started) void this.ending.expireWarm(record.reason);
    else void this.ending.end(record);
  }

  // ---- the model side: session hooks (events go to ModelEvents) ----

  onEvent(rt: OpenAIRealtimeWS, event: Parameters<ModelEvents['onEvent']>[1]): void {
    if (this.recycler.owns(rt)) this.recycler.onCandidateEvent(event);
    else this.model.onEvent(rt, event);
  }

  onClosed(rt: OpenAIRealtimeWS, code: number, reason: string): void {
    const { state } = this;
    const prompt = this.callSetup.prompt;
    if (this.recycler.owns(rt) && !state.finished) return this.recycler.onCandidateClosed(code, reason);
    if (rt !== state.rt || state.finished || this.fallingBack) return;
    // The server's session limit: expected on a long call, resumed on a new session (session.recycled says so).
    if (state.sessionExpired && state.phase === 'live' && prompt) return void this.recycler.resumeAfterExpiry();
    void this.tl.record('openai.closed', { code, reason, state: state.phase }, 'warn');
    if (state.phase === 'live' && prompt && this.deps.config.reconnectAttempts > 0)
      void this.modelReconnect.reconnect(prompt);
    else this.fallback('OPENAI_CLOSED');
  }

  // ---- failure path ----

  /** The caller must never sit in silence: fallback clip, then the TwiML after </Connect> (or a transfer). */
  private fallback(reason: string): void {
    const { deps, state } = this;
    if (this.fallingBack || state.finished) return;
    this.fallingBack = true;
    this.recycler.stop();
    state.stats.fallbackReason = reason;
    deps.metrics.fallbacks.inc({ reason });
    const hold = {
      // Only a caller already on the line waits (a warm call's records are held for its START).
      whileWaiting: () => (this.channel.attached ? this.hold.playNow() : undefined),
      stop: () => this.hold.stop(),
    };
    void fallbackToCaller(
      {
        channel: this.channel,
        callControl: deps.callControl,
        config: deps.config,
        tl: this.tl,
        logger: deps.logger,
        hold,
      },
      reason,
    );
  }
}
