/**
 * Token usage as the real Realtime API reports it in `response.done`, modelled
 * closely enough for cost accounting to be tested: every response is billed
 * for the whole context as input (instructions and tools as text, text items,
 * the caller's committed audio and the agent's earlier audio as audio), and
 * what the previous response of the session already read is reported as
 * cached (the prefix the API caches), so later turns have cached tokens.
 * Audio tokens are proportional to duration, text tokens to characters.
 */
import { INPUT_AUDIO_MS_PER_TOKEN, OUTPUT_AUDIO_MS_PER_TOKEN, TEXT_CHARS_PER_TOKEN } from './constants.js';
import type { JsonObject, SessionConfig } from './session-config.js';

interface InputTokens {
  text: number;
  audio: number;
}

const textTokens = (chars: number) => Math.ceil(chars / TEXT_CHARS_PER_TOKEN);

export class UsageMeter {
  /** Characters of text items in the context (created items, function calls and outputs). */
  private textChars = 0;
  private inputAudioMs = 0;
  /** The agent's audio from earlier responses, read back as context. */
  private contextOutputAudioMs = 0;
  private previous: InputTokens | undefined;

  addText(chars: number): void {
    this.textChars += chars;
  }

  addCallerAudio(ms: number): void {
    this.inputAudioMs += ms;
  }

  /** The usage of a response that produced `output`; its output joins the context of the next one. */
  forResponse(config: SessionConfig, output: { textChars: number; audioMs: number }): JsonObject {
    const settingsChars = config.instructions.length + JSON.stringify(config.tools).length;
    const input: InputTokens = {
      text: textTokens(settingsChars + this.textChars),
      audio:
        Math.ceil(this.inputAudioMs / INPUT_AUDIO_MS_PER_TOKEN) +
        Math.ceil(this.contextOutputAudioMs / OUTPUT_AUDIO_MS_PER_TOKEN),
    };
    const cachedText = Math.min(this.previous?.text ?? 0, input.text);
    const cachedAudio = Math.min(this.previous?.audio ?? 0, input.audio);
    this.previous = input;
    const outText = textTokens(output.textChars);
    const outAudio = Math.ceil(output.audioMs / OUTPUT_AUDIO_MS_PER_TOKEN);
    this.contextOutputAudioMs += output.audioMs;
    // A function call's arguments are text in the context; a spoken reply is there as audio.
    if (output.audioMs === 0) this.textChars += output.textChars;
    const inputTokens = input.text + input.audio;
    return {
      total_tokens: inputTokens + outText + outAudio,
      input_tokens: inputTokens,
      output_tokens: outText + outAudio,
      input_token_details: {
        text_tokens: input.text,
        audio_tokens: input.audio,
        image_tokens: 0,
        cached_tokens: cachedText + cachedAudio,
        cached_tokens_details: { text_tokens: cachedText, audio_tokens: cachedAudio, image_tokens: 0 },
      },
      output_token_details: { text_tokens: outText, audio_tokens: outAudio },
    };
  }
}
