/**
 * What each Realtime server event does to a call: greeting, audio toward the
 * caller with marks, barge-in, tool calls, the conversation record (transcripts,
 * usage), errors. Composed into
 * CallSession around the call's shared CallState (STYLE 15).
 */
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import { base64DecodedLength, bytesToMs } from '@voice/protocols';
import type { BridgeMetrics } from '../metrics.js';
import type { AgentControl } from './agent-control.js';
import { handleBargeIn } from './barge-in.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import type { ConversationRecord } from './conversation-record.js';
import type { DtmfInput } from './dtmf-input.js';
import type { GatewayChannel } from './gateway-channel.js';
import type { GreetingGuard } from './greeting-guard.js';
import type { HoldAudio } from './hold-audio.js';
import type { PlaybackTracker } from './playback-tracker.js';
import { BENIGN_ERROR_CODES, dispatchRealtimeEvent, type RealtimeEventHandlers } from './realtime-events.js';
import type { SilenceWatch } from './silence-watch.js';
import type { ToolTurns } from './tool-turns.js';
import { usageFields } from './usage-cost.js';

type EventOf<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

export interface ModelEventsDeps {
  state: CallState;
  channel: GatewayChannel;
  playback: PlaybackTracker;
  hold: HoldAudio;
  silence: SilenceWatch;
  conversation: ConversationRecord;
  toolTurns: ToolTurns;
  /** Input transcription is on: committed caller turns will get a transcript. */
  transcribing: boolean;
  agentControl: AgentControl;
  dtmf: DtmfInput;
  greeting: GreetingGuard;
  tl: CallTimeline;
  metrics: BridgeMetrics;
  logger: Logger;
}

export class ModelEvents implements RealtimeEventHandlers {
  /** Resolves the wait armed by `armSessionUpdated`. */
  private sessionUpdated: (() => void) | undefined;

  constructor(private readonly d: ModelEventsDeps) {}

  /** Events of a replaced (dropped) session are ignored. */
  onEvent(rt: OpenAIRealtimeWS, event: RealtimeServerEvent): void {
    if (rt === this.d.state.rt) dispatchRealtimeEvent(this, event);
  }

  /** Armed before session.update is sent, so the answer cannot be missed. */
  armSessionUpdated(): Promise<void> {
    return new Promise<void>((resolve) => (this.sessionUpdated = resolve));
  }

  onSessionUpdated(): void {
    this.sessionUpdated?.();
    this.sessionUpdated = undefined;
  }

  onResponseCreated(event: EventOf<'response.created'>): void {
    const { state, silence } = this.d;
    const id = event.response.id ?? '';
    state.activeResponseId = id;
    state.responseRequestedAt = undefined;
    silence.responseStarted(id);
    this.d.agentControl.onResponseCreated(id);
    if (state.greetingPending) {
      state.greetingPending = false;
      state.greetingResponseId = id;
      this.d.greeting.onCreated();
    }
  }

  onAudioDelta(event: EventOf<'response.output_audio.delta'>): void {
    const { state, playback, hold, silence, channel, metrics } = this.d;
    if (!state.speaking || playback.isTruncated(event.item_id)) return;
    state.stats.modelFirstAudioAt ??= Date.now();
    hold.stop();
    silence.responseSettled(event.response_id);
    const bytes = base64DecodedLength(event.delta);
    const marks = playback.onAudioSent(event.item_id, bytes);
    channel.sendAgentAudio(event.delta, marks, event.response_id === state.greetingResponseId);
    this.d.agentControl.onAudioSent(event.response_id, marks[marks.length - 1]!, bytesToMs(bytes));
    metrics.txDeltas.inc();
  }

  onResponseDone(event: EventOf<'response.done'>): void {
    const { state, silence, toolTurns, conversation, logger } = this.d;
    const id = event.response.id ?? '';
    if (state.activeResponseId === id) state.activeResponseId = undefined;
    silence.responseSettled(id);
    const status = event.response.status;
    // A reply the caller cut off gets no transcript.done: record the words it had generated, marked.
    if (status === 'cancelled')
      for (const cut of cutReplies(event)) conversation.append({ kind: 'agent', ...cut, interrupted: true });
    conversation.append({ kind: 'usage', response_id: id, ...usageFields(event.response.usage) });
    if (status === 'failed' || status === 'incomplete') {
      logger.warn('model response did not complete', {
        status,
        details: JSON.stringify(event.response.status_details ?? {}),
      });
    }
    toolTurns.onResponseDone();
    this.d.dtmf.onResponseDone();
    this.d.agentControl.onResponseDone(id, status);
    if (id === state.greetingResponseId) {
      const code = event.response.status_details?.error?.code ?? '';
      this.d.greeting.onDone(status, code, state.stats.modelFirstAudioAt !== undefined);
    }
  }

  onSpeechStarted(event: EventOf<'input_audio_buffer.speech_started'>): void {
    const { state, tl, channel, playback, metrics } = this.d;
    state.callerSpeaking = true;
    void tl.record('caller.speech_started', { audio_start_ms: event.audio_start_ms });
    const rt = state.rt;
    if (!rt) return;
    if (!handleBargeIn({ tl, channel, playback, metrics, send: (e) => rt.send(e) })) return;
    state.stats.bargeIns++;
    this.d.agentControl.onBargeIn();
  }

  onSpeechStopped(): void {
    this.d.state.callerSpeaking = false;
  }

  /** A caller turn was committed: its transcription is on the way (when transcription is on). */
  onInputCommitted(event: EventOf<'input_audio_buffer.committed'>): void {
    if (this.d.transcribing) this.d.state.pendingTranscriptions.set(event.item_id, Date.now());
  }

  onFunctionCallArgumentsDone(event: EventOf<'response.function_call_arguments.done'>): void {
    this.d.toolTurns.onFunctionCall(event);
  }

  onOutputTranscriptDone(event: EventOf<'response.output_audio_transcript.done'>): void {
    this.d.conversation.append({ kind: 'agent', text: event.transcript, item_id: event.item_id, interrupted: false });
  }

  onInputTranscriptionCompleted(event: EventOf<'conversation.item.input_audio_transcription.completed'>): void {
    this.d.state.pendingTranscriptions.delete(event.item_id);
    this.d.conversation.append({ kind: 'caller', text: event.transcript, item_id: event.item_id });
  }

  onInputTranscriptionFailed(event: EventOf<'conversation.item.input_audio_transcription.failed'>): void {
    this.d.state.pendingTranscriptions.delete(event.item_id);
    this.d.logger.warn('caller turn not transcribed', { itemId: event.item_id, error: event.error.message });
  }

  onServerError(event: EventOf<'error'>): void {
    const code = event.error.code ?? '';
    if (isSessionLimit(code, event.error.message)) {
      // The server closes the session next; the call resumes on a new one without a greeting.
      this.d.state.sessionExpired = true;
      this.d.logger.info('model session reached its maximum duration', { code });
      return;
    }
    if (this.d.greeting.onError(code, event.error.event_id)) return;
    this.d.dtmf.onServerError(code, event.error.event_id);
    if (BENIGN_ERROR_CODES.has(code)) {
      this.d.logger.debug('benign realtime error', { code });
      return;
    }
    this.d.logger.warn('realtime error event', { code, type: event.error.type, message: event.error.message });
  }
}

/** PROTOCOLS §4: at 60 minutes the server sends an error saying the session hit its maximum duration, then closes. */
const SESSION_LIMIT_MESSAGE = /maximum duration/i;
const SESSION_LIMIT_CODE = 'session_expired';

function isSessionLimit(code: string, message: string): boolean {
  return code === SESSION_LIMIT_CODE || SESSION_LIMIT_MESSAGE.test(message);
}

/** Assistant messages in a cancelled response, with the transcript generated before the cut. */
function cutReplies(event: EventOf<'response.done'>): Array<{ text: string; item_id: string }> {
  const cut: Array<{ text: string; item_id: string }> = [];
  for (const item of event.response.output ?? []) {
    if (item.type !== 'message' || item.role !== 'assistant') continue;
    const text = (item.content ?? [])
      .map((c) => ('transcript' in c ? (c.transcript ?? '') : ''))
      .join(' ')
      .trim();
    if (text) cut.push({ text, item_id: item.id ?? '' });
  }
  return cut;
}
