/**
 * Which Realtime server event goes to which handler of a call. One line per
 * event type: this is where to look first when following what the model did.
 * Unknown event types are ignored (the API adds new ones).
 */
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';

type EventOf<T extends RealtimeServerEvent['type']> = Extract<RealtimeServerEvent, { type: T }>;

export interface RealtimeEventHandlers {
  onSessionUpdated(event: EventOf<'session.updated'>): void;
  onResponseCreated(event: EventOf<'response.created'>): void;
  onAudioDelta(event: EventOf<'response.output_audio.delta'>): void;
  onResponseDone(event: EventOf<'response.done'>): void;
  onSpeechStarted(event: EventOf<'input_audio_buffer.speech_started'>): void;
  onSpeechStopped(event: EventOf<'input_audio_buffer.speech_stopped'>): void;
  onInputCommitted(event: EventOf<'input_audio_buffer.committed'>): void;
  onFunctionCallArgumentsDone(event: EventOf<'response.function_call_arguments.done'>): void;
  onOutputTranscriptDone(event: EventOf<'response.output_audio_transcript.done'>): void;
  onInputTranscriptionCompleted(event: EventOf<'conversation.item.input_audio_transcription.completed'>): void;
  onInputTranscriptionFailed(event: EventOf<'conversation.item.input_audio_transcription.failed'>): void;
  onServerError(event: EventOf<'error'>): void;
}

export function dispatchRealtimeEvent(handlers: RealtimeEventHandlers, event: RealtimeServerEvent): void {
  switch (event.type) {
    case 'session.updated':
      return handlers.onSessionUpdated(event);
    case 'response.created':
      return handlers.onResponseCreated(event);
    case 'response.output_audio.delta':
      return handlers.onAudioDelta(event);
    case 'response.done':
      return handlers.onResponseDone(event);
    case 'input_audio_buffer.speech_started':
      return handlers.onSpeechStarted(event);
    case 'input_audio_buffer.speech_stopped':
      return handlers.onSpeechStopped(event);
    case 'input_audio_buffer.committed':
      return handlers.onInputCommitted(event);
    case 'response.function_call_arguments.done':
      return handlers.onFunctionCallArgumentsDone(event);
    case 'response.output_audio_transcript.done':
      return handlers.onOutputTranscriptDone(event);
    case 'conversation.item.input_audio_transcription.completed':
      return handlers.onInputTranscriptionCompleted(event);
    case 'conversation.item.input_audio_transcription.failed':
      return handlers.onInputTranscriptionFailed(event);
    case 'error':
      return handlers.onServerError(event);
    default:
      return;
  }
}

/** Errors that come from benign races (the caller and the model acting at once). */
export const BENIGN_ERROR_CODES: ReadonlySet<string> = new Set([
  'response_cancel_not_active',
  'conversation_already_has_active_response',
  'input_audio_buffer_commit_empty',
]);
