/**
 * One call owned by this bridge: opens the Realtime session, configures it with
 * the call's prompt, makes the agent greet first, and moves audio both ways
 * between the call's Redis streams and the model, with barge-in.
 *
 * Lifecycle: run() (setup) -> live -> end() on the gateway's `stop` entry.
 * A model that cannot be reached or drops sends the caller to the fallback.
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
  InvalidStreamEntryError,
  callKeys,
  decodeInbound,
  preciseNow,
  readCallMeta,
  type InboundEntry,
  type RawStreamEntry,
  type StreamTail,
  type Timeline,
} from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { connectRealtime } from '../realtime/connect.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import { buildSessionUpdate } from '../realtime/session-config.js';
import type { CallStats } from './call-stats.js';
import { finalizeCall, type StopEntry } from './finalize-call.js';
import { OutboundWriter } from './outbound-writer.js';
import { PlaybackTracker } from './playback-tracker.js';
import { resolvePrompt, type ResolvedPrompt } from './prompt-source.js';
import { BENIGN_ERROR_CODES, dispatchRealtimeEvent, type RealtimeEventHandlers } from './realtime-events.js';
import type { ToolExecutor } from './tool-executor.js';

type StartEntry = Extract<InboundEntry, { kind: 'start' }>;
type EventOf<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

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
  onFinished(callSid: string): void;
}

export class CallSession implements RealtimeEventHandlers {
  private state: 'setup' | 'live' | 'ending' | 'ended' = 'setup';
  private readonly abort = new AbortController();
  private readonly out: OutboundWriter;
  private readonly playback: PlaybackTracker;
  private readonly stats: CallStats;
  private rt: OpenAIRealtimeWS | undefined;
  private pendingAudio: string[] = [];
  private startEntry: StartEntry | undefined;
  private startWaiter: ((entry: StartEntry) => void) | undefined;
  private sessionUpdatedWaiter: (() => void) | undefined;
  private businessId = '';
  private callerNumber = '';
  private greetingPending = false;
  private greetingResponseId: string | undefined;
  private activeResponseId: string | undefined;
  private toolCallsInFlight = 0;
  private responseAfterTools = false;
  private fallingBack = false;
  private invalidEntryLogged = false;

  constructor(private readonly deps: CallSessionDeps) {
    this.out = new OutboundWriter(deps.redis, deps.callSid, deps.logger);
    this.playback = new PlaybackTracker(deps.config.bargeInMarginMs);
    this.stats = { claimedAt: Date.now(), connectAttempts: 0, toolsCount: 0, bargeIns: 0 };
  }

  get callSid(): string {
    return this.deps.callSid;
  }

  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /** Sets the call up; never throws (failures become the fallback). */
  async run(): Promise<void> {
    const { deps } = this;
    deps.tail.add(callKeys.inbound(deps.callSid), '0', (entries) => this.onInbound(entries));
    try {
      const start = await this.waitForStart();
      if (!start) return;
      const meta = await readCallMeta(deps.redis, deps.callSid);
      this.businessId = meta?.businessId ?? start.customParameters.businessId ?? '';
      this.callerNumber = meta?.from ?? '';
      const direction = meta?.direction ?? (start.customParameters.direction === 'outbound' ? 'outbound' : 'inbound');

      const [connection, prompt] = await Promise.allSettled([this.connect(), this.loadPrompt(direction)]);
      if (connection.status === 'rejected') return this.onConnectFailed(connection.reason);
      this.rt = connection.value;
      if (prompt.status === 'rejected') {
        deps.logger.error('prompt unavailable', errorFields(prompt.reason));
        return this.fallback('PROMPT_UNAVAILABLE');
      }
      if (this.state !== 'setup') return;
      await this.configure(prompt.value);
      if (this.state !== 'setup') return;
      this.goLive();
    } catch (err) {
      deps.logger.error('call setup failed', errorFields(err));
      this.fallback('SETUP_ERROR');
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

  private async connect(): Promise<OpenAIRealtimeWS> {
    const { deps, stats } = this;
    stats.connectStartedAt = Date.now();
    const connection = await connectRealtime(
      deps.openai,
      deps.openaiConfig,
      {
        onAttempt: (attempt) => {
          stats.connectAttempts = attempt;
          void deps.timeline.record(deps.callSid, 'openai.connecting', { attempt }, { logger: deps.logger });
        },
        onAttemptFailed: (attempt, error, willRetry) => {
          if (willRetry) deps.metrics.connectRetries.inc({ reason: error.reason });
          deps.logger.warn('openai connect attempt failed', { attempt, reason: error.reason, willRetry, error: error.message });
        },
      },
      this.abort.signal,
    );
    stats.connectedAt = Date.now();
    const rt = connection.rt;
    rt.on('event', (event) => dispatchRealtimeEvent(this, event));
    rt.on('error', (err) => deps.logger.warn('realtime client error', { error: err.message }));
    rt.socket.on('close', (code, reason) => this.onRealtimeClosed(code, reason.toString()));
    void deps.timeline.record(
      deps.callSid,
      'openai.connected',
      { attempt: connection.attempt, ms: connection.totalMs, attempt_ms: connection.attemptMs, session_id: connection.sessionId },
      { logger: deps.logger },
    );
    return rt;
  }

  private async loadPrompt(direction: 'inbound' | 'outbound'): Promise<ResolvedPrompt> {
    const { deps } = this;
    this.stats.promptStartedAt = Date.now();
    const resolved = await resolvePrompt(
      { redis: deps.redis, businesses: deps.businesses, waitMs: deps.config.promptWaitMs, pollMs: deps.config.promptPollMs },
      { callSid: deps.callSid, businessId: this.businessId || undefined, direction },
      this.abort.signal,
    );
    this.stats.promptReadyAt = Date.now();
    this.stats.promptPath = resolved.path;
    this.stats.promptReason = resolved.reason;
    if (resolved.path === 'slow') deps.logger.warn('prompt slow path', { reason: resolved.reason });
    return resolved;
  }

  private async configure(resolved: ResolvedPrompt): Promise<void> {
    const { deps, stats } = this;
    const update = buildSessionUpdate(resolved.prompt, deps.config.vad);
    stats.toolsCount = resolved.prompt.toolNames.length;
    if (stats.toolsCount === 0) deps.logger.info('no tools for this business: pure conversation');
    const updated = new Promise<void>((resolve) => (this.sessionUpdatedWaiter = resolve));
    stats.configureSentAt = Date.now();
    this.rt!.send(update);
    const timedOut = await Promise.race([
      updated.then(() => false),
      sleep(deps.openaiConfig.connectTimeoutMs).then(() => true),
    ]);
    if (timedOut) throw new OpenAIConnectError('OPENAI_CONNECT_TIMEOUT', 'no session.updated after session.update');
    stats.configuredAt = Date.now();
    deps.metrics.promptPath.inc({ path: resolved.path });
    await deps.timeline.record(
      deps.callSid,
      'session.configured',
      { prompt_path: resolved.path, prompt_reason: resolved.reason, prompt_chars: resolved.prompt.instructions.length, tools: stats.toolsCount, ms: stats.configuredAt - stats.configureSentAt },
      { logger: deps.logger },
    );
  }

  /** The agent speaks first; caller audio that arrived during setup goes to the model in order. */
  private goLive(): void {
    const { deps } = this;
    this.state = 'live';
    this.greetingPending = true;
    this.stats.greetingRequestedAt = Date.now();
    this.rt!.send({ type: 'response.create' });
    const buffered = this.pendingAudio.length;
    for (const audio of this.pendingAudio) this.rt!.send({ type: 'input_audio_buffer.append', audio });
    this.pendingAudio = [];
    void deps.timeline.record(deps.callSid, 'audio_bridge.started', { buffered_frames: buffered }, { logger: deps.logger });
    void deps.timeline.record(deps.callSid, 'greeting.requested', {}, { logger: deps.logger });
  }

  // ---- caller side: entries the gateway wrote to call:{CA}:in ----

  private onInbound(entries: RawStreamEntry[]): void {
    for (const [id, fields] of entries) {
      let entry: InboundEntry;
      try {
        entry = decodeInbound(id, fields);
      } catch (err) {
        this.deps.metrics.invalidEntries.inc();
        if (!this.invalidEntryLogged && err instanceof InvalidStreamEntryError) {
          this.invalidEntryLogged = true;
          this.deps.logger.warn('skipping invalid inbound entry', { error: err.message });
        }
        continue;
      }
      this.onInboundEntry(entry);
    }
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
        else if (this.state === 'setup') this.pendingAudio.push(entry.payload);
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

  onSessionUpdated(): void {
    this.sessionUpdatedWaiter?.();
    this.sessionUpdatedWaiter = undefined;
  }

  onResponseCreated(event: EventOf<'response.created'>): void {
    this.activeResponseId = event.response.id;
    if (this.greetingPending) {
      this.greetingPending = false;
      this.greetingResponseId = event.response.id;
    }
  }

  onAudioDelta(event: EventOf<'response.output_audio.delta'>): void {
    if (this.state !== 'live' || this.playback.isTruncated(event.item_id)) return;
    if (this.stats.modelFirstAudioAt === undefined) this.stats.modelFirstAudioAt = Date.now();
    const marks = this.playback.onAudioSent(event.item_id, base64DecodedLength(event.delta));
    // The start-of-item mark goes before the audio, the end-of-delta mark after it.
    if (marks.length === 2) this.out.write({ kind: 'mark', name: marks[0]! });
    this.out.write({ kind: 'media', payload: event.delta, at: preciseNow(), greeting: event.response_id === this.greetingResponseId });
    this.out.write({ kind: 'mark', name: marks[marks.length - 1]! });
    this.deps.metrics.txDeltas.inc();
  }

  onResponseDone(event: EventOf<'response.done'>): void {
    if (this.activeResponseId === event.response.id) this.activeResponseId = undefined;
    const status = event.response.status;
    if (status === 'failed' || status === 'incomplete') {
      this.deps.logger.warn('model response did not complete', { status, details: JSON.stringify(event.response.status_details ?? {}) });
    }
    if (this.responseAfterTools && this.toolCallsInFlight === 0) this.requestResponse();
  }

  onSpeechStarted(event: EventOf<'input_audio_buffer.speech_started'>): void {
    const { deps } = this;
    void deps.timeline.record(deps.callSid, 'caller.speech_started', { audio_start_ms: event.audio_start_ms }, { logger: deps.logger });
    const decision = this.playback.bargeIn();
    if (!decision || !this.rt) return;
    // Clear what Twilio still has queued, then make the model forget what was never heard.
    this.out.write({ kind: 'clear' });
    this.rt.send({ type: 'conversation.item.truncate', item_id: decision.itemId, content_index: 0, audio_end_ms: decision.audioEndMs });
    this.stats.bargeIns++;
    deps.metrics.bargeIns.inc();
    void deps.timeline.record(
      deps.callSid,
      'barge_in',
      { item_id: decision.itemId, audio_end_ms: decision.audioEndMs, sent_ms: decision.sentMs, played_ms: decision.playedMs },
      { logger: deps.logger },
    );
  }

  onFunctionCallArgumentsDone(event: EventOf<'response.function_call_arguments.done'>): void {
    const { deps } = this;
    this.toolCallsInFlight++;
    void deps
      .tools(event.name, event.arguments, { callSid: deps.callSid, businessId: this.businessId, callerNumber: this.callerNumber })
      .catch((err: unknown) => {
        deps.logger.error('tool failed', { name: event.name, ...errorFields(err) });
        return { ok: false, output: JSON.stringify({ error: 'the system could not complete this; apologise and offer to take a message' }) };
      })
      .then((result) => {
        this.toolCallsInFlight--;
        deps.metrics.toolCalls.inc({ name: event.name, ok: String(result.ok) });
        void deps.timeline.record(deps.callSid, 'tool.called', { name: event.name, ok: result.ok }, { logger: deps.logger });
        if (this.state !== 'live' || !this.rt) return;
        this.rt.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: event.call_id, output: result.output } });
        // The model answers the caller once the function-call response itself is done.
        if (this.activeResponseId || this.toolCallsInFlight > 0) this.responseAfterTools = true;
        else this.requestResponse();
      });
  }

  onServerError(event: EventOf<'error'>): void {
    const code = event.error.code ?? '';
    if (BENIGN_ERROR_CODES.has(code)) {
      this.deps.logger.debug('benign realtime error', { code });
      return;
    }
    this.deps.logger.warn('realtime error event', { code, type: event.error.type, message: event.error.message });
  }

  private requestResponse(): void {
    this.responseAfterTools = false;
    this.rt?.send({ type: 'response.create' });
  }

  // ---- failure paths ----

  private onConnectFailed(reason: unknown): void {
    if (this.state !== 'setup') return; // the caller hung up while we were connecting
    const error = reason instanceof OpenAIConnectError ? reason : new OpenAIConnectError('OPENAI_ERROR', String(reason));
    this.deps.metrics.connectFailures.inc({ reason: error.reason });
    void this.deps.timeline.record(
      this.deps.callSid,
      'openai.failed',
      { reason: error.reason, attempts: error.attempts, fatal: error.fatal, error: error.message },
      { level: 'error', logger: this.deps.logger },
    );
    this.fallback(error.reason);
  }

  private onRealtimeClosed(code: number, reason: string): void {
    if (this.state === 'ending' || this.state === 'ended') return;
    void this.deps.timeline.record(this.deps.callSid, 'openai.closed', { code, reason }, { level: 'warn', logger: this.deps.logger });
    this.fallback('OPENAI_CLOSED');
  }

  /** The caller must never sit in silence: hand the call to the TwiML fallback after </Connect>. */
  private fallback(reason: string): void {
    if (this.fallingBack || this.state === 'ending' || this.state === 'ended') return;
    this.fallingBack = true;
    this.stats.fallbackReason = reason;
    this.deps.metrics.fallbacks.inc({ reason });
    void this.deps.timeline.record(this.deps.callSid, 'realtime.fallback', { reason }, { level: 'warn', logger: this.deps.logger });
    this.out.write({ kind: 'hangup', reason });
  }

  // ---- the end ----

  /** Ends the call once the gateway reports the stream stopped. */
  async end(stop: StopEntry): Promise<void> {
    if (this.state === 'ending' || this.state === 'ended') return;
    this.state = 'ending';
    this.abort.abort();
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

  /**
   * This bridge is shutting down with the call still live: send the caller to the
   * fallback; the gateway's stop entry then ends the call through the normal path.
   */
  handOff(reason: string): void {
    this.fallback(reason);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
