/**
 * The session.update that configures a call: audio/pcmu both ways (no
 * transcoding), server VAD, tools, and input transcription (the caller's turns
 * in the conversation record) unless its model is ''.
 */
import type { SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { PrebuiltPrompt } from '@voice/agent';
import { toolsFor } from '@voice/agent';
import type { CallConfig } from '../config.js';

export function buildSessionUpdate(
  prompt: PrebuiltPrompt,
  vad: CallConfig['vad'],
  transcriptionModel: string,
): SessionUpdateEvent {
  const tools = toolsFor(prompt.toolNames);
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      output_modalities: ['audio'],
      instructions: prompt.instructions,
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          ...(transcriptionModel ? { transcription: { model: transcriptionModel } } : {}),
          turn_detection: {
            type: 'server_vad',
            threshold: vad.threshold,
            prefix_padding_ms: vad.prefixPaddingMs,
            silence_duration_ms: vad.silenceDurationMs,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { type: 'audio/pcmu' }, voice: prompt.voice },
      },
      tools,
      tool_choice: tools.length > 0 ? 'auto' : 'none',
    },
  };
}
