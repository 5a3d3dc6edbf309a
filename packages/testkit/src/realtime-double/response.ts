/**
 * One model response: the full GA event sequence for spoken audio (paced
 * faster than real time, transcript deltas alongside) or for a scripted
 * function call, and the truncated sequence when it is cancelled.
 */
import { performance } from 'node:perf_hooks';
import { synthesizeMulaw } from '../audio/speech.js';
import { encodeOutputAudio, formatInfo } from './audio-format.js';
import type { RealtimeDoubleBehaviour } from './behaviour.js';
import { FUNCTION_ARGUMENTS_DELTA_CHARS } from './constants.js';
import type { Conversation, ConversationEntry } from './conversation.js';
import { newId } from './ids.js';
import type { RecordedResponse, ResponseStatus } from './recorded-session.js';
import type { AudioFormat, JsonObject, SessionConfig } from './session-config.js';
import type { UsageMeter } from './usage.js';

export type ResponsePlan =
  | { kind: 'audio'; text: string }
  | { kind: 'function_call'; name: string; arguments: string }
  /** Spoken words, then a function call, in one response (two output items). */
  | { kind: 'audio_then_function_call'; text: string; name: string; arguments: string };

export type CancelReason = 'turn_detected' | 'client_cancelled';

/** What a response needs from its session. */
export interface ResponseHost {
  readonly conversationId: string;
  readonly conversation: Conversation;
  send(event: JsonObject): void;
  config(): SessionConfig;
  behaviour(): RealtimeDoubleBehaviour;
  elapsedMs(): number;
  /** The session's context, billed as each response's input. */
  readonly usage: UsageMeter;
  /** The bytes to send for one output audio delta (the tap may stamp them). */
  outputAudio(chunk: Buffer): Buffer;
  /** Called once, right after `response.done`. */
  responseFinished(run: ResponseRun): void;
}

const OUTPUT_INDEX = 0;
const CONTENT_INDEX = 0;

export class ResponseRun {
  readonly id = newId('resp');
  readonly itemId = newId('item');
  /** The function call's item: the response's only item, or the second after the audio. */
  private readonly callItemId: string;
  private readonly callId = newId('call');
  readonly record: RecordedResponse;
  private state: ResponseStatus = 'in_progress';
  private disposed = false;
  private timer: NodeJS.Timeout | undefined;
  private entry: ConversationEntry | undefined;
  private readonly format: AudioFormat;
  private audio: Buffer = Buffer.alloc(0);
  private bytesSent = 0;
  private readonly words: string[];
  private wordsSent = 0;
  private audioStartedAt = 0;

  constructor(
    private readonly host: ResponseHost,
    private readonly plan: ResponsePlan,
    trigger: RecordedResponse['trigger'],
    /** End `failed` before any audio (behaviour.failResponses). */
    private readonly failBeforeAudio = false,
  ) {
    this.format = host.config().audio.output.format;
    this.callItemId = plan.kind === 'audio_then_function_call' ? newId('item') : this.itemId;
    this.words = plan.kind === 'function_call' ? [] : plan.text.split(/\s+/).filter(Boolean);
    this.record = {
      id: this.id,
      kind: plan.kind === 'function_call' ? 'function_call' : 'audio',
      trigger,
      status: 'in_progress',
      statusReason: undefined,
      text: plan.kind === 'function_call' ? '' : plan.text,
      itemId: this.itemId,
      audioMsSent: 0,
      createdAtMs: host.elapsedMs(),
      firstAudioAtMs: undefined,
      doneAtMs: undefined,
      functionCall: undefined,
    };
  }

  get isActive(): boolean {
    return this.state === 'in_progress' && !this.disposed;
  }

  start(): void {
    this.host.send({ type: 'response.created', response: this.responseObject([]) });
    if (this.failBeforeAudio) {
      const failure = new Error('the double was told to fail this response (failResponses)');
      this.schedule(this.host.behaviour().firstAudioDelayMs, () => this.fail(failure, 'server_error'));
      return;
    }
    const item =
      this.plan.kind === 'function_call'
        ? this.functionCallItem('in_progress', '')
        : this.assistantItem('in_progress', []);
    this.addItem(item, OUTPUT_INDEX);
    if (this.plan.kind === 'function_call')
      this.schedule(this.host.behaviour().firstAudioDelayMs, () => this.emitFunctionCall(OUTPUT_INDEX, []));
    else this.startAudio(this.plan.text);
  }

  cancel(reason: CancelReason): void {
    if (!this.isActive) return;
    this.clearTimer();
    this.state = 'cancelled';
    this.record.statusReason = reason;
    const item =
      this.plan.kind === 'function_call'
        ? this.functionCallItem('incomplete', '')
        : this.assistantItem('incomplete', [{ type: 'output_audio', transcript: this.transcriptSoFar() }]);
    this.finishItem(item);
    this.finish({ type: 'cancelled', reason }, [item]);
  }

  /** The session closed: stop without sending anything more. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
  }

  private startAudio(text: string): void {
    const startedAt = performance.now();
    this.host.send({ ...this.partRef(), type: 'response.content_part.added', part: { type: 'audio', transcript: '' } });
    const b = this.host.behaviour();
    const speech: { voice?: string; wordsPerMinute?: number } = {};
    if (b.voice !== undefined) speech.voice = b.voice;
    if (b.wordsPerMinute !== undefined) speech.wordsPerMinute = b.wordsPerMinute;
    synthesizeMulaw(text, speech).then(
      (mulaw) => {
        if (!this.isActive) return;
        this.audio = encodeOutputAudio(mulaw, this.format);
        // Synthesis time counts towards the first-audio delay rather than adding to it.
        const remaining = b.firstAudioDelayMs - (performance.now() - startedAt);
        this.schedule(remaining, () => {
          this.audioStartedAt = performance.now();
          this.sendNextDelta();
        });
      },
      (err: unknown) => this.fail(err),
    );
  }

  private sendNextDelta(): void {
    const b = this.host.behaviour();
    const bytesPerMs = formatInfo(this.format).bytesPerMs;
    const chunk = this.audio.subarray(this.bytesSent, this.bytesSent + Math.round(b.deltaMs * bytesPerMs));
    this.bytesSent += chunk.length;
    const msSent = this.bytesSent / bytesPerMs;
    if (this.entry) this.entry.audioMs = msSent;
    this.record.audioMsSent = msSent;
    this.record.firstAudioAtMs ??= this.host.elapsedMs();
    this.host.send({
      ...this.partRef(),
      type: 'response.output_audio.delta',
      delta: this.host.outputAudio(chunk).toString('base64'),
    });
    this.sendTranscriptDelta();
    if (this.bytesSent >= this.audio.length) {
      this.complete();
      return;
    }
    // Pace against the start time so timer jitter does not accumulate.
    const dueAt = this.audioStartedAt + msSent / b.realtimeFactor;
    this.schedule(dueAt - performance.now(), () => this.sendNextDelta());
  }

  /** Releases words in proportion to the audio sent, as the real transcript trails the audio. */
  private sendTranscriptDelta(): void {
    const target =
      this.audio.length === 0 ? this.words.length : Math.ceil((this.words.length * this.bytesSent) / this.audio.length);
    if (target <= this.wordsSent) return;
    const delta = (this.wordsSent > 0 ? ' ' : '') + this.words.slice(this.wordsSent, target).join(' ');
    this.wordsSent = target;
    this.host.send({ ...this.partRef(), type: 'response.output_audio_transcript.delta', delta });
  }

  private complete(): void {
    const transcript = this.words.join(' ');
    this.host.send({ ...this.partRef(), type: 'response.output_audio.done' });
    this.host.send({ ...this.partRef(), type: 'response.output_audio_transcript.done', transcript });
    this.host.send({ ...this.partRef(), type: 'response.content_part.done', part: { type: 'audio', transcript } });
    const item = this.assistantItem('completed', [{ type: 'output_audio', transcript }]);
    this.finishItem(item);
    if (this.plan.kind === 'audio_then_function_call') {
      // The second output item: the function call, right after the words.
      this.addItem(this.functionCallItem('in_progress', ''), OUTPUT_INDEX + 1);
      this.emitFunctionCall(OUTPUT_INDEX + 1, [item]);
      return;
    }
    this.state = 'completed';
    this.finish(null, [item]);
  }

  private addItem(item: JsonObject, outputIndex: number): void {
    const { entry, previousItemId } = this.host.conversation.add(item);
    if (outputIndex === OUTPUT_INDEX) this.entry = entry;
    this.host.send({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item });
    this.host.send({ type: 'conversation.item.added', previous_item_id: previousItemId, item });
  }

  private emitFunctionCall(outputIndex: number, before: JsonObject[]): void {
    if (this.plan.kind === 'audio') return;
    const { name, arguments: args } = this.plan;
    const ref = { response_id: this.id, item_id: this.callItemId, output_index: outputIndex, call_id: this.callId };
    for (let i = 0; i < args.length; i += FUNCTION_ARGUMENTS_DELTA_CHARS) {
      this.host.send({
        ...ref,
        type: 'response.function_call_arguments.delta',
        delta: args.slice(i, i + FUNCTION_ARGUMENTS_DELTA_CHARS),
      });
    }
    this.host.send({ ...ref, type: 'response.function_call_arguments.done', name, arguments: args });
    this.state = 'completed';
    this.record.functionCall = { name, call_id: this.callId, arguments: args };
    const item = this.functionCallItem('completed', args);
    this.finishItem(item, outputIndex);
    this.finish(null, [...before, item]);
  }

  private fail(err: unknown, code = 'synthesis_failed'): void {
    if (!this.isActive) return;
    this.state = 'failed';
    const message = err instanceof Error ? err.message : String(err);
    this.finish({ type: 'failed', error: { type: 'server_error', code, message } }, []);
  }

  private finishItem(item: JsonObject, outputIndex = OUTPUT_INDEX): void {
    const id = String(item.id);
    if (this.entry && id === this.itemId) this.entry.item = item;
    else {
      const entry = this.host.conversation.get(id);
      if (entry) entry.item = item;
    }
    this.host.send({ type: 'response.output_item.done', response_id: this.id, output_index: outputIndex, item });
    this.host.send({ type: 'conversation.item.done', previous_item_id: this.host.conversation.previousOf(id), item });
  }

  private finish(statusDetails: JsonObject | null, output: JsonObject[]): void {
    this.record.status = this.state;
    this.record.doneAtMs = this.host.elapsedMs();
    this.host.send({
      type: 'response.done',
      response: { ...this.responseObject(output), status_details: statusDetails, usage: this.usage() },
    });
    this.host.responseFinished(this);
  }

  private responseObject(output: JsonObject[]): JsonObject {
    const config = this.host.config();
    return {
      object: 'realtime.response',
      id: this.id,
      status: this.state,
      status_details: null,
      output,
      conversation_id: this.host.conversationId,
      output_modalities: config.output_modalities,
      max_output_tokens: config.max_output_tokens,
      audio: { output: { format: this.format, voice: config.audio.output.voice } },
      usage: null,
      metadata: null,
    };
  }

  private assistantItem(status: string, content: JsonObject[]): JsonObject {
    return { id: this.itemId, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
  }

  private functionCallItem(status: string, args: string): JsonObject {
    if (this.plan.kind === 'audio') throw new Error('not a function call response');
    return {
      id: this.callItemId,
      object: 'realtime.item',
      type: 'function_call',
      status,
      name: this.plan.name,
      call_id: this.callId,
      arguments: args,
    };
  }

  private usage(): JsonObject {
    const text =
      this.plan.kind === 'audio'
        ? this.transcriptSoFar()
        : this.plan.kind === 'function_call'
          ? this.plan.arguments
          : this.transcriptSoFar() + this.plan.arguments;
    return this.host.usage.forResponse(this.host.config(), {
      textChars: text.length,
      audioMs: this.record.audioMsSent,
    });
  }

  private transcriptSoFar(): string {
    return this.words.slice(0, this.wordsSent).join(' ');
  }

  private partRef(): JsonObject {
    return { response_id: this.id, item_id: this.itemId, output_index: OUTPUT_INDEX, content_index: CONTENT_INDEX };
  }

  private schedule(delayMs: number, action: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.isActive) action();
      },
      Math.max(0, delayMs),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
