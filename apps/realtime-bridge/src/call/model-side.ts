/**
 * The model's side of a call: what each Realtime server event does to it
 * (greeting, audio toward the caller with marks, barge-in, tool calls,
 * transcripts, errors). CallSession extends this with the call's lifecycle.
 */
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { base64DecodedLength } from '@voice/protocols';
import { handleBargeIn } from './barge-in.js';
import type { CallSessionDeps } from './call-session.js';
import type { CallStats } from './call-stats.js';
import { ConversationLog } from './conversation-log.js';
import { recordSilentResponse } from './fallback.js';
import { HoldAudio } from './hold-audio.js';
import { OutboundWriter } from './outbound-writer.js';
import { PlaybackTracker } from './playback-tracker.js';
import { BENIGN_ERROR_CODES, dispatchRealtimeEvent, type RealtimeEventHandlers } from './realtime-events.js';
import { SilenceWatch } from './silence-watch.js';
import { ToolTurns } from './tool-turns.js';

type EventOf<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

export type CallState = 'setup' | 'warm' | 'live' | 'reconnecting' | 'ending' | 'ended';

export abstract class CallModelSide implements RealtimeEventHandlers {
  protected state: CallState = 'setup';
  protected readonly out: OutboundWriter;
  protected readonly playback: PlaybackTracker;
  protected readonly stats: CallStats;
  protected readonly hold: HoldAudio;
  protected readonly silence: SilenceWatch;
  protected readonly conversation = new ConversationLog();
  protected readonly toolTurns: ToolTurns;
  protected rt: OpenAIRealtimeWS | undefined;
  protected sessionUpdated: (() => void) | undefined;
  protected businessId = '';
  protected callerNumber = '';
  protected greetingPending = false;
  protected greetingResponseId: string | undefined;
  protected activeResponseId: string | undefined;

  constructor(protected readonly deps: CallSessionDeps) {
    this.out = new OutboundWriter(deps.redis, deps.callSid, deps.logger);
    this.playback = new PlaybackTracker(deps.config.bargeInMarginMs);
    this.stats = { claimedAt: Date.now(), connectAttempts: 0, toolsCount: 0, bargeIns: 0 };
    this.hold = new HoldAudio(() => this.out.write({ kind: 'play', clip: 'hold' }), deps.config.holdAudioAfterMs, deps.config.holdAudioRepeatMs);
    this.silence = new SilenceWatch(deps.config.silentResponseMs, (responseId) => recordSilentResponse(deps, responseId, deps.config.silentResponseMs));
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

  /** The agent is asked to speak first; its first response is the greeting. */
  protected requestGreeting(): void {
    this.greetingPending = true;
    this.stats.greetingRequestedAt = Date.now();
    this.rt!.send({ type: 'response.create' });
    void this.deps.timeline.record(this.deps.callSid, 'greeting.requested', { path: this.deps.mode }, { logger: this.deps.logger });
  }

  protected armSessionUpdated(): Promise<void> {
    return new Promise<void>((resolve) => (this.sessionUpdated = resolve));
  }  // ---- model side: Realtime server events ----

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
    if ((this.state !== 'live' && this.state !== 'warm') || this.playback.isTruncated(event.item_id)) return;
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

}
