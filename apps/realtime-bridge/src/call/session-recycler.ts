/**
 * Long calls: the Realtime API ends a session after 60 minutes (SESSION_MAX_MS),
 * so a session older than that minus SESSION_RECYCLE_MARGIN_MS is replaced.
 * A new session is opened and configured in the background with the
 * conversation record replayed (no response is asked for: no second
 * greeting), and swapped in at a quiet moment: no response active, the caller
 * not speaking and no caller turn waiting for its transcript, the agent's
 * audio played out, no tool running. Items completed while the new session
 * waited are given to it just before the swap. From that instant caller audio
 * goes to the new session; the old one is closed.
 *
 * A session the server ends for its maximum duration first is resumed the
 * same way: caller audio is held (and flushed into the new session), and the
 * hold clip plays only if that takes longer than HOLD_AUDIO_AFTER_MS.
 *
 * `session.recycled` on the timeline says which session, why, how many items
 * were replayed, and gap_ms: how long the caller's audio was not reaching a
 * model (from its last frame to the old session to its first to the new one;
 * frames come every 20 ms, so about 20 when nothing was held).
 */
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { CallConfig } from '../config.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { CallerStream } from './caller-stream.js';
import type { ConversationRecord } from './conversation-record.js';
import type { HoldAudio } from './hold-audio.js';
import type { PlaybackTracker } from './playback-tracker.js';
import type { ToolTurns } from './tool-turns.js';

export type RecycleReason = 'age' | 'max_duration';

export interface SessionRecyclerDeps {
  state: CallState;
  caller: CallerStream;
  playback: PlaybackTracker;
  toolTurns: ToolTurns;
  hold: HoldAudio;
  conversation: ConversationRecord;
  tl: CallTimeline;
  logger: Logger;
  config: CallConfig['session'];
  /** Opens a model session (its events come back through `onCandidateEvent` once `adopt`ed). */
  open(): Promise<OpenAIRealtimeWS>;
  /** Configures it with the conversation replayed; resolves after session.updated (`updated`). */
  configure(rt: OpenAIRealtimeWS, updated: Promise<void>): Promise<{ replayed: number; replayedUpTo: number }>;
  /** A session the server ended could not be replaced: the caller goes to the fallback. */
  onResumeFailed(): void;
  /** The call is live again on the new session (keypad entries that waited go to it). */
  onLive(): void;
}

interface ReadySession {
  rt: OpenAIRealtimeWS;
  openedAt: number;
  prepareMs: number;
  replayed: number;
  replayedUpTo: number;
}

export class SessionRecycler {
  private timer: NodeJS.Timeout | undefined;
  /** The session being prepared or ready, whose events are not the call's yet. */
  private candidate: OpenAIRealtimeWS | undefined;
  private ready: ReadySession | undefined;
  private preparing: Promise<void> | undefined;
  private sessionUpdated: (() => void) | undefined;
  private retryAt = 0;
  private stopped = false;
  /** Sessions this call has used (1 = the first). */
  session = 1;

  constructor(private readonly d: SessionRecyclerDeps) {}

  /** Starts watching the current session's age (once the call is live). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.watch();
  }

  /**
   * One timer that sleeps until the current session nears its limit, then a check every
   * recycleCheckMs for a quiet moment to swap in. Polling all call long cost every live call
   * 10 wakeups a second for an event due after ~57 minutes.
   */
  private watch(): void {
    const { state, config } = this.d;
    clearTimeout(this.timer);
    if (this.stopped) return;
    const dueInMs = state.sessionOpenedAt + config.maxMs - config.recycleMarginMs - Date.now();
    this.timer =
      dueInMs > 0 ? setTimeout(() => this.watch(), dueInMs) : setInterval(() => this.tick(), config.recycleCheckMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.candidate?.close({ code: 1000, reason: 'call ended' });
    this.candidate = undefined;
    this.ready = undefined;
  }

  owns(rt: OpenAIRealtimeWS): boolean {
    return rt === this.candidate;
  }

  /** Events of the session being prepared: only its session.updated matters before the swap. */
  onCandidateEvent(event: RealtimeServerEvent): void {
    if (event.type === 'session.updated') {
      this.sessionUpdated?.();
      this.sessionUpdated = undefined;
    } else if (event.type === 'error') {
      this.d.logger.warn('realtime error on the next session', {
        code: event.error.code,
        message: event.error.message,
      });
    }
  }

  /** The session being prepared closed before it was swapped in: prepare another later. */
  onCandidateClosed(code: number, reason: string): void {
    this.d.logger.warn('next model session closed before the swap', { code, reason });
    this.candidate = undefined;
    this.ready = undefined;
    this.retryAt = Date.now() + this.d.config.recycleRetryMs;
  }

  /** The server ended the current session for its maximum duration: continue on a new one. */
  async resumeAfterExpiry(): Promise<void> {
    const { state, caller, hold, logger } = this.d;
    const replyWasCut = state.activeResponseId !== undefined;
    state.phase = 'reconnecting';
    state.rt = undefined;
    state.forgetResponses();
    caller.disconnect();
    hold.startFromNow();
    try {
      if (!this.ready) await (this.preparing ?? this.prepare());
      if (state.phase !== 'reconnecting' || this.stopped) return;
      if (!this.ready) throw new Error('no session could be prepared');
      state.phase = 'live';
      this.swap('max_duration');
      hold.stop();
      // A reply the server cut off is asked for again; otherwise the model waits for the caller, as before.
      if (replyWasCut) state.rt!.send({ type: 'response.create' });
      this.d.onLive();
    } catch (err) {
      if (state.phase !== 'reconnecting' || this.stopped) return;
      logger.error('could not resume the conversation after the session limit', errorFields(err));
      this.d.onResumeFailed();
    }
  }

  private tick(): void {
    const { state, config } = this.d;
    if (state.phase !== 'live' || this.preparing) return;
    // A newer session (swapped in, or reconnected after a drop): sleep until it nears its own limit.
    if (Date.now() - state.sessionOpenedAt < config.maxMs - config.recycleMarginMs) return this.watch();
    if (!this.ready) {
      if (Date.now() >= this.retryAt) void this.tryPrepare();
      return;
    }
    if (this.quiet()) this.swap('age');
  }

  private tryPrepare(): Promise<void> {
    return this.prepare().catch((err: unknown) => {
      this.d.logger.warn('could not prepare the next model session; will try again', errorFields(err));
      this.retryAt = Date.now() + this.d.config.recycleRetryMs;
    });
  }

  /** Opens and configures the next session with the conversation so far. */
  private prepare(): Promise<void> {
    const run = async () => {
      const started = Date.now();
      const rt = await this.d.open();
      if (this.stopped) return rt.close({ code: 1000, reason: 'call ended' });
      this.candidate = rt;
      const updated = new Promise<void>((resolve) => (this.sessionUpdated = resolve));
      const { replayed, replayedUpTo } = await this.d.configure(rt, updated);
      if (this.candidate !== rt) return; // closed meanwhile
      this.ready = { rt, openedAt: started, prepareMs: Date.now() - started, replayed, replayedUpTo };
    };
    const running = run().finally(() => {
      this.preparing = undefined;
    });
    this.preparing = running;
    return running;
  }

  /** Between turns: nothing the caller could hear or say is in flight. */
  private quiet(): boolean {
    const { state, playback, toolTurns } = this.d;
    return (
      state.activeResponseId === undefined &&
      !state.greetingPending &&
      !state.callerSpeaking &&
      !this.transcriptDue() &&
      !playback.isSpeaking() &&
      toolTurns.idle
    );
  }

  /** A caller turn's transcript is still on its way (one that never comes stops holding the swap after a while). */
  private transcriptDue(): boolean {
    const since = Date.now() - this.d.config.transcriptWaitMs;
    for (const committedAt of this.d.state.pendingTranscriptions.values()) if (committedAt > since) return true;
    return false;
  }

  /** The ready session becomes the call's: items recorded since it was prepared first, then caller audio. */
  private swap(reason: RecycleReason): void {
    const { state, caller, conversation, tl } = this.d;
    const next = this.ready!;
    this.ready = undefined;
    this.candidate = undefined;
    const late = conversation.itemsSince(next.replayedUpTo);
    for (const item of late) next.rt.send(item);
    const old = state.rt;
    const ageMs = Date.now() - state.sessionOpenedAt;
    state.rt = next.rt;
    state.sessionOpenedAt = next.openedAt;
    state.forgetResponses();
    state.sessionExpired = false;
    state.callerSpeaking = false;
    state.pendingTranscriptions.clear();
    this.session += 1;
    const session = this.session;
    const lastToOld = caller.lastForwardedAt;
    // The old session's last moments of caller audio first (the VAD's prefix padding): a caller who
    // began to speak right at the swap is heard from the start. Silence, at a quiet moment.
    for (const audio of caller.recentFrames()) next.rt.send({ type: 'input_audio_buffer.append', audio });
    let first = true;
    caller.connect((audio) => {
      if (first) {
        first = false;
        const gapMs = lastToOld === undefined ? 0 : performance.now() - lastToOld;
        void tl.record('session.recycled', {
          session,
          reason,
          items: next.replayed + late.length,
          age_ms: ageMs,
          prepare_ms: next.prepareMs,
          gap_ms: gapMs,
        });
      }
      next.rt.send({ type: 'input_audio_buffer.append', audio });
    });
    old?.close({ code: 1000, reason: 'session recycled' });
  }
}
