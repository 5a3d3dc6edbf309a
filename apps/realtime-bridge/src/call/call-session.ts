/**
 * One call owned by this bridge: opens the Realtime session, configures it with
 * the call's prompt, makes the agent greet first, and moves audio both ways
 * between the call's Redis streams and the model, with barge-in.
 *
 * Lifecycle: run() (setup) -> live [-> reconnecting -> live] -> end() on the
 * gateway's `stop` entry. The caller is never left in silence: the hold clip
 * plays while the model is slow, and a model that cannot be reached (or
 * resumed) sends the caller to the fallback.
 */
import type OpenAI from 'openai';
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Redis } from 'ioredis';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { base64DecodedLength } from '@voice/protocols';
import {
  type InvalidStreamEntryError,
  callKeys,
  decodeInboundEntries,
  readCallMeta,
  type InboundEntry,
  type RawStreamEntry,
  type StreamTail,
  type Timeline,
} from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import type { CallControl } from '../twilio/call-control.js';
import type { CallStats } from './call-stats.js';
import { ConversationLog } from './conversation-log.js';
import { fallbackToCaller, recordConnectFailure, recordSilentResponse } from './fallback.js';
import { finalizeCall, type StopEntry } from './finalize-call.js';
import { HoldAudio } from './hold-audio.js';
import { OutboundWriter } from './outbound-writer.js';
import { PlaybackTracker } from './playback-tracker.js';
import { loadCallPrompt, type ResolvedPrompt } from './prompt-source.js';
import { handleBargeIn } from './barge-in.js';
import { BENIGN_ERROR_CODES, dispatchRealtimeEvent, type RealtimeEventHandlers } from './realtime-events.js';
import { configureSession, openSession, type SetupDeps } from './session-setup.js';
import { SilenceWatch } from './silence-watch.js';
import type { ToolExecutor } from './tool-executor.js';
import { ToolTurns } from './tool-turns.js';

type StartEntry = Extract<InboundEntry, { kind: 'start' }>;
type EventOf<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

/** Caller frames kept while the model is (re)connecting: 30 s is more than any setup budget. */
const MAX_PENDING_FRAMES = 1500;

export interface CallSessionDeps {
  callSid: string;
  instanceId: string;
  config: CallConfig;
  openaiConfig: OpenAIConfig;
  openai: OpenAI;
  redis: Redis;
  tail: StreamTail;
  timeline: Timeline;
  logger: Logger;
  metrics: BridgeMetrics;
  businesses: BusinessRepository;
  calls: CallRepository;
  tools: ToolExecutor;
  callControl: CallControl | undefined;
  onFinished(callSid: string): void;
}

export class CallSession implements RealtimeEventHandlers {
  private state: 'setup' | 'live' | 'reconnecting' | 'ending' | 'ended' = 'setup';
  private readonly abort = new AbortController();
  private readonly out: OutboundWriter;
  private readonly playback: PlaybackTracker;
  private readonly stats: CallStats;
  private readonly hold: HoldAudio;
  private readonly silence: SilenceWatch;
  private readonly conversation = new ConversationLog();
  private readonly setup: SetupDeps;
  private readonly toolTurns: ToolTurns;
  private rt: OpenAIRealtimeWS | undefined;
  private prompt: ResolvedPrompt | undefined;
  private pendingAudio: string[] = [];
  private startEntry: StartEntry | undefined;
  private startWaiter: ((entry: StartEntry) => void) | undefined;
  private sessionUpdated: (() => void) | undefined;
  private businessId = '';
  private callerNumber = '';
  private greetingPending = false;
  private greetingResponseId: string | undefined;
  private activeResponseId: string | undefined;
  private fallingBack = false;
  private invalidEntryLogged = false;

  constructor(private readonly deps: CallSessionDeps) {
    this.out = new OutboundWriter(deps.redis, deps.callSid, deps.logger);
    this.playback = new PlaybackTracker(deps.config.bargeInMarginMs);
    this.stats = { claimedAt: Date.now(), connectAttempts: 0, toolsCount: 0, bargeIns: 0 };
    this.hold = new HoldAudio(() => this.out.write({ kind: 'play', clip: 'hold' }), deps.config.holdAudioAfterMs, deps.config.holdAudioRepeatMs);
    this.silence = new SilenceWatch(deps.config.silentResponseMs, (responseId) => recordSilentResponse(deps, responseId, deps.config.silentResponseMs));
    this.setup = { ...deps };
    this.toolTurns = new ToolTurns({
      ...deps,
      send: (event) => {
        if (this.state !== 'live' || !this.rt) return false;
        this.rt.send(event);
        return true;
      },
      context: () => ({ callSid: deps.callSid, businessId: this.businessId, callerNumber: this.callerNumber }),
      hasActiveResponse: () => this.activeResponseId !== undefined,
    });
  }

  get callSid(): string {
    return this.deps.callSid;
  }

  /** Sets the call up; never throws (failures become the fallback). */
  async run(): Promise<void> {
    const { deps, stats } = this;
    deps.tail.add(callKeys.inbound(deps.callSid), '0', (entries) => this.onInbound(entries));
    try {
      const start = await this.waitForStart();
      if (!start) return;
      this.hold.start(start.startedAt);
      const meta = await readCallMeta(deps.redis, deps.callSid);
      this.businessId = meta?.businessId ?? start.customParameters.businessId ?? '';
      this.callerNumber = meta?.from ?? '';
      const direction = meta?.direction ?? (start.customParameters.direction === 'outbound' ? 'outbound' : 'inbound');

      stats.connectStartedAt = Date.now();
      const budget = { attempts: deps.openaiConfig.connectAttempts, timeoutMs: deps.openaiConfig.connectTimeoutMs };
      const [opened, prompt] = await Promise.allSettled([openSession(this.setup, this, budget, this.abort.signal), this.loadPrompt(direction)]);
      if (opened.status === 'rejected') return this.onConnectFailed(opened.reason);
      this.rt = opened.value.rt;
      stats.connectedAt = Date.now();
      stats.connectAttempts = opened.value.attempts;
      if (prompt.status === 'rejected') {
        deps.logger.error('prompt unavailable', errorFields(prompt.reason));
        return this.fallback('PROMPT_UNAVAILABLE');
      }
      this.prompt = prompt.value;
      if (this.state !== 'setup') return;
      stats.configureSentAt = Date.now();
      const configured = await configureSession(this.setup, this.rt, prompt.value, this.armSessionUpdated());
      stats.configuredAt = Date.now();
      stats.toolsCount = configured.tools;
      if (this.state !== 'setup') return;
      this.goLive('greeting');
    } catch (err) {
      deps.logger.error('call setup failed', errorFields(err));
      this.fallback(err instanceof OpenAIConnectError ? err.reason : 'SETUP_ERROR');
    }
  }

  private waitForStart(): Promise<StartEntry | undefined> {
    if (this.startEntry) return Promise.resolve(this.startEntry);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // The claim outlived its call (stream trimmed or expired): give the call up quietly.
        this.deps.logger.warn('claimed call has no start entry; releasing it');
        this.state = 'ended';
        this.deps.tail.remove(callKeys.inbound(this.deps.callSid));
        void this.deps.redis.del(callKeys.owner(this.deps.callSid));
        this.deps.onFinished(this.deps.callSid);
        resolve(undefined);
      }, this.deps.openaiConfig.connectTimeoutMs);
      this.startWaiter = (entry) => {
        clearTimeout(timer);
        resolve(entry);
      };
    });
  }

  private loadPrompt(direction: 'inbound' | 'outbound'): Promise<ResolvedPrompt> {
    const { deps } = this;
    return loadCallPrompt(
      { redis: deps.redis, businesses: deps.businesses, waitMs: deps.config.promptWaitMs, pollMs: deps.config.promptPollMs },
      { callSid: deps.callSid, businessId: this.businessId || undefined, direction },
      this.stats,
      deps.logger,
      this.abort.signal,
    );
  }

  private armSessionUpdated(): Promise<void> {
    return new Promise<void>((resolve) => (this.sessionUpdated = resolve));
  }

  /** Audio flows; caller frames that arrived meanwhile go to the model in order. */
  private goLive(kind: 'greeting' | 'resume'): void {
    const { deps } = this;
    this.state = 'live';
    const buffered = this.pendingAudio.length;
    if (kind === 'greeting') {
      this.greetingPending = true;
      this.stats.greetingRequestedAt = Date.now();
    }
    // The agent speaks first (the greeting), or picks the conversation up again.
    this.rt!.send({ type: 'response.create' });
    for (const audio of this.pendingAudio) this.rt!.send({ type: 'input_audio_buffer.append', audio });
    this.pendingAudio = [];
    if (kind === 'greeting') {
      void deps.timeline.record(deps.callSid, 'audio_bridge.started', { buffered_frames: buffered }, { logger: deps.logger });
      void deps.timeline.record(deps.callSid, 'greeting.requested', {}, { logger: deps.logger });
    }
  }

  // ---- caller side: entries the gateway wrote to call:{CA}:in ----

  private onInbound(entries: RawStreamEntry[]): void {
    for (const entry of decodeInboundEntries(entries, (err) => this.onInvalidEntry(err))) this.onInboundEntry(entry);
  }

  private onInvalidEntry(err: InvalidStreamEntryError): void {
    this.deps.metrics.invalidEntries.inc();
    if (this.invalidEntryLogged) return;
    this.invalidEntryLogged = true;
    this.deps.logger.warn('skipping invalid inbound entry', { error: err.message });
  }

  private onInboundEntry(entry: InboundEntry): void {
    switch (entry.kind) {
      case 'start':
        this.startEntry ??= entry;
        this.stats.streamStartedAt ??= entry.startedAt;
        this.startWaiter?.(entry);
        return;
      case 'media':
        this.deps.metrics.rxFrames.inc();
        if (this.state === 'live') this.rt!.send({ type: 'input_audio_buffer.append', audio: entry.payload });
        else if ((this.state === 'setup' || this.state === 'reconnecting') && this.pendingAudio.length < MAX_PENDING_FRAMES) {
          this.pendingAudio.push(entry.payload);
        }
        return;
      case 'mark':
        this.playback.onMarkEchoed(entry.name);
        return;
      case 'dtmf':
        this.deps.logger.info('caller dtmf', { digit: entry.digit });
        return;
      case 'stop':
        void this.end(entry);
        return;
    }
  }

  // ---- model side: Realtime server events ----

  /** Events of a replaced (dropped) session are ignored. */
  onEvent(rt: OpenAIRealtimeWS, event: RealtimeServerEvent): void {
    if (rt === this.rt) dispatchRealtimeEvent(this, event);
  }

  onSessionUpdated(): void {
    this.sessionUpdated?.();
    this.sessionUpdated = undefined;
  }

  onResponseCreated(event: EventOf<'response.created'>): void {
    const id = event.response.id ?? '';
    this.activeResponseId = id;
    this.silence.responseStarted(id);
    if (this.greetingPending) {
      this.greetingPending = false;
      this.greetingResponseId = id;
    }
  }

  onAudioDelta(event: EventOf<'response.output_audio.delta'>): void {
    if (this.state !== 'live' || this.playback.isTruncated(event.item_id)) return;
    if (this.stats.modelFirstAudioAt === undefined) this.stats.modelFirstAudioAt = Date.now();
    this.hold.stop();
    this.silence.responseSettled(event.response_id);
    const marks = this.playback.onAudioSent(event.item_id, base64DecodedLength(event.delta));
    this.out.writeAgentAudio(event.delta, marks, event.response_id === this.greetingResponseId);
    this.deps.metrics.txDeltas.inc();
  }

  onResponseDone(event: EventOf<'response.done'>): void {
    const id = event.response.id ?? '';
    if (this.activeResponseId === id) this.activeResponseId = undefined;
    this.silence.responseSettled(id);
    const status = event.response.status;
    if (status === 'failed' || status === 'incomplete') {
      this.deps.logger.warn('model response did not complete', { status, details: JSON.stringify(event.response.status_details ?? {}) });
    }
    this.toolTurns.onResponseDone();
  }

  onSpeechStarted(event: EventOf<'input_audio_buffer.speech_started'>): void {
    const { deps } = this;
    void deps.timeline.record(deps.callSid, 'caller.speech_started', { audio_start_ms: event.audio_start_ms }, { logger: deps.logger });
    const rt = this.rt;
    if (!rt) return;
    const interrupted = handleBargeIn({ ...deps, out: this.out, playback: this.playback, send: (e) => rt.send(e) });
    if (interrupted) this.stats.bargeIns++;
  }

  onFunctionCallArgumentsDone(event: EventOf<'response.function_call_arguments.done'>): void {
    this.toolTurns.onFunctionCall(event);
  }

  onOutputTranscriptDone(event: EventOf<'response.output_audio_transcript.done'>): void {
    this.conversation.add('assistant', event.transcript);
  }

  onInputTranscriptionCompleted(event: EventOf<'conversation.item.input_audio_transcription.completed'>): void {
    this.conversation.add('user', event.transcript);
  }

  onServerError(event: EventOf<'error'>): void {
    const code = event.error.code ?? '';
    if (BENIGN_ERROR_CODES.has(code)) {
      this.deps.logger.debug('benign realtime error', { code });
      return;
    }
    this.deps.logger.warn('realtime error event', { code, type: event.error.type, message: event.error.message });
  }

  // ---- failure paths ----

  private onConnectFailed(reason: unknown): void {
    if (this.state !== 'setup') return; // the caller hung up while we were connecting
    this.fallback(recordConnectFailure(this.deps, reason));
  }

  onClosed(rt: OpenAIRealtimeWS, code: number, reason: string): void {
    if (rt !== this.rt || this.state === 'ending' || this.state === 'ended' || this.fallingBack) return;
    void this.deps.timeline.record(this.deps.callSid, 'openai.closed', { code, reason, state: this.state }, { level: 'warn', logger: this.deps.logger });
    if (this.state === 'live' && this.prompt && this.deps.config.reconnectAttempts > 0) void this.reconnect(this.prompt);
    else this.fallback('OPENAI_CLOSED');
  }

  /** The model dropped mid-call: the caller hears the hold clip while a new session resumes the conversation. */
  private async reconnect(prompt: ResolvedPrompt): Promise<void> {
    const { deps } = this;
    this.state = 'reconnecting';
    this.rt = undefined;
    this.activeResponseId = undefined;
    this.hold.playNow();
    const started = Date.now();
    void deps.timeline.record(deps.callSid, 'openai.reconnecting', { items: this.conversation.size }, { level: 'warn', logger: deps.logger });
    try {
      const budget = { attempts: deps.config.reconnectAttempts, timeoutMs: deps.config.reconnectTimeoutMs };
      const opened = await openSession(this.setup, this, budget, this.abort.signal);
      if (this.state !== 'reconnecting') return opened.rt.close();
      this.rt = opened.rt;
      await configureSession(this.setup, opened.rt, prompt, this.armSessionUpdated(), this.conversation);
      if (this.state !== 'reconnecting') return;
      void deps.timeline.record(deps.callSid, 'openai.reconnected', { ms: Date.now() - started, items: this.conversation.size }, { logger: deps.logger });
      this.goLive('resume');
    } catch (err) {
      if (this.state !== 'reconnecting') return;
      deps.logger.error('could not resume the conversation', errorFields(err));
      this.fallback('OPENAI_CLOSED');
    }
  }

  /** The caller must never sit in silence: fallback clip, then the TwiML after </Connect> (or a transfer). */
  private fallback(reason: string): void {
    if (this.fallingBack || this.state === 'ending' || this.state === 'ended') return;
    this.fallingBack = true;
    this.hold.stop();
    this.stats.fallbackReason = reason;
    this.deps.metrics.fallbacks.inc({ reason });
    void fallbackToCaller(
      { callSid: this.deps.callSid, out: this.out, callControl: this.deps.callControl, config: this.deps.config, timeline: this.deps.timeline, logger: this.deps.logger },
      reason,
    );
  }

  /** Shutting down with the call live: fallback now; the gateway's stop entry then ends the call. */
  handOff(reason: string): void {
    this.fallback(reason);
  }

  /** Ends the call once the gateway reports the stream stopped. */
  async end(stop: StopEntry): Promise<void> {
    if (this.state === 'ending' || this.state === 'ended') return;
    this.state = 'ending';
    this.abort.abort();
    this.hold.stop();
    this.silence.stop();
    this.deps.tail.remove(callKeys.inbound(this.deps.callSid));
    this.out.close();
    this.rt?.close({ code: 1000, reason: 'call ended' });
    try {
      await finalizeCall(this.deps, this.deps.callSid, this.stats, stop);
    } finally {
      this.state = 'ended';
      this.deps.onFinished(this.deps.callSid);
    }
  }
}
