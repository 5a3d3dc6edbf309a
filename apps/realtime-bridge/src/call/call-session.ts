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
import type { Redis } from 'ioredis';
import type { BusinessRepository, CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { callKeys, readCallMeta, transientCallKeys, type InboundEntry, type StreamFollower, type Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import type { CallControl } from '../twilio/call-control.js';
import { CallerStream } from './caller-stream.js';
import { fallbackToCaller, recordConnectFailure } from './fallback.js';
import { finalizeCall, type StopEntry } from './finalize-call.js';
import { CallModelSide } from './model-side.js';
import { loadCallPrompt, type ResolvedPrompt } from './prompt-source.js';
import { configureSession, openSession, type SetupDeps } from './session-setup.js';
import type { ToolExecutor } from './tool-executor.js';

type StartEntry = Extract<InboundEntry, { kind: 'start' }>;

export interface CallSessionDeps {
  /** warm: claimed when the prebuild ran, before START; cold: claimed on START. */
  mode: 'warm' | 'cold';
  /** Set when this bridge took the call over from a dead owner. */
  takeoverFrom?: string;
  callSid: string;
  instanceId: string;
  config: CallConfig;
  openaiConfig: OpenAIConfig;
  openai: OpenAI;
  redis: Redis;
  tail: StreamFollower;
  timeline: Timeline;
  logger: Logger;
  metrics: BridgeMetrics;
  businesses: BusinessRepository;
  calls: CallRepository;
  tools: ToolExecutor;
  callControl: CallControl | undefined;
  onFinished(callSid: string): void;
}

export class CallSession extends CallModelSide {
  private readonly abort = new AbortController();
  private readonly caller: CallerStream;
  private readonly setup: SetupDeps;
  private prompt: ResolvedPrompt | undefined;
  private startEntry: StartEntry | undefined;
  private startWaiter: ((entry: StartEntry) => void) | undefined;
  private fallingBack = false;

  constructor(deps: CallSessionDeps) {
    super(deps);
    this.setup = { ...deps };
    this.caller = new CallerStream(this, deps.metrics, deps.logger);
  }

  get callSid(): string {
    return this.deps.callSid;
  }

  /** Sets the call up; never throws (failures become the fallback). */
  async run(): Promise<void> {
    const { deps, stats } = this;
    stats.greetingPath = deps.mode;
    deps.tail.add(callKeys.inbound(deps.callSid), '0', this.caller.onEntries);
    try {
      if (deps.takeoverFrom) await this.discardStaleAudio();
      // Cold: the caller is on the line; a START entry is already in the stream. Warm: the phone still rings.
      const start = deps.mode === 'cold' ? await this.waitForStart(deps.openaiConfig.connectTimeoutMs) : undefined;
      if (deps.mode === 'cold' && !start) return this.release('claimed call has no start entry; releasing it');
      const meta = await readCallMeta(deps.redis, deps.callSid);
      this.businessId = meta?.businessId ?? start?.customParameters.businessId ?? '';
      this.callerNumber = meta?.from ?? '';
      const direction = meta?.direction ?? (start?.customParameters.direction === 'outbound' ? 'outbound' : 'inbound');

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
      if (deps.mode === 'cold') return this.goLive('greeting');
      await this.warmUntilStart();
    } catch (err) {
      deps.logger.error('call setup failed', errorFields(err));
      this.fallback(err instanceof OpenAIConnectError ? err.reason : 'SETUP_ERROR');
    }
  }

  /**
   * Warm: ask for the greeting now. Its audio goes to the call's outbound
   * stream, where the gateway finds it the moment START arrives.
   */
  private async warmUntilStart(): Promise<void> {
    const { deps } = this;
    this.state = 'warm';
    this.requestGreeting();
    void deps.timeline.record(deps.callSid, 'warm.ready', { ms: Date.now() - this.stats.claimedAt }, { logger: deps.logger });
    const start = await this.waitForStart(deps.config.warmSessionTtlMs);
    if (!start) return this.expireWarm('ttl');
    if (this.state !== 'warm') return;
    void deps.timeline.record(
      deps.callSid,
      'warm.joined',
      { greeting_ready: this.stats.modelFirstAudioAt !== undefined, waited_ms: Date.now() - this.stats.claimedAt },
      { logger: deps.logger },
    );
    this.goLive('resume-after-warm');
  }

  /** The call never arrived (TTL) or failed before START (no_start): close the model session, leave only the timeline. */
  private async expireWarm(reason: string): Promise<void> {
    const { deps } = this;
    if (this.state === 'ending' || this.state === 'ended') return;
    deps.metrics.warmExpired.inc({ reason });
    void deps.timeline.record(deps.callSid, 'warm.expired', { reason, ttl_ms: deps.config.warmSessionTtlMs }, { level: 'warn', logger: deps.logger });
    this.state = 'ending';
    this.out.close();
    this.rt?.close({ code: 1000, reason: 'warm session expired' });
    await deps.redis.del(...transientCallKeys(deps.callSid)).catch(() => undefined);
    this.release();
  }

  /** A dead owner may have left greeting audio for the gateway: drop it so the caller hears one greeting. */
  private async discardStaleAudio(): Promise<void> {
    await this.deps.redis.del(callKeys.outbound(this.deps.callSid));
    this.out.write({ kind: 'clear' });
  }

  private release(warning?: string): void {
    if (warning) this.deps.logger.warn(warning);
    this.state = 'ended';
    this.abort.abort();
    this.hold.stop();
    this.silence.stop();
    this.deps.tail.remove(callKeys.inbound(this.deps.callSid));
    if (warning) void this.deps.redis.del(callKeys.owner(this.deps.callSid));
    this.deps.onFinished(this.deps.callSid);
  }

  private waitForStart(timeoutMs: number): Promise<StartEntry | undefined> {
    if (this.startEntry) return Promise.resolve(this.startEntry);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
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



  /** Audio flows both ways; caller frames that arrived meanwhile go to the model in order. */
  private goLive(kind: 'greeting' | 'resume' | 'resume-after-warm'): void {
    const { deps } = this;
    this.state = 'live';
    if (kind === 'greeting') this.requestGreeting();
    // After a dropped session the agent picks the conversation up again.
    if (kind === 'resume') this.rt!.send({ type: 'response.create' });
    const rt = this.rt!;
    const buffered = this.caller.connect((audio) => rt.send({ type: 'input_audio_buffer.append', audio }));
    if (kind !== 'resume') void deps.timeline.record(deps.callSid, 'audio_bridge.started', { buffered_frames: buffered }, { logger: deps.logger });
  }

  // ---- caller side: entries the gateway wrote to call:{CA}:in ----

  onStart(entry: StartEntry): void {
    this.startEntry ??= entry;
    this.stats.streamStartedAt ??= entry.startedAt;
    if (this.stats.modelFirstAudioAt === undefined) this.hold.start(entry.startedAt);
    this.startWaiter?.(entry);
  }

  onMark(name: string): void {
    this.playback.onMarkEchoed(name);
  }

  onStop(entry: StopEntry): void {
    // A stop before any START: the call failed before it began (the gateway recorded it); just let go.
    if (!this.startEntry) void this.expireWarm(entry.reason);
    else void this.end(entry);
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
    this.caller.disconnect();
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
    this.caller.close();
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
