/**
 * One accepted Realtime WebSocket: session lifecycle (created, limits, close),
 * sending and recording events, turns and responses. Client events are
 * dispatched to the handlers in handlers.ts.
 */
import type { RawData, WebSocket } from 'ws';
import { synthesizeMulaw } from '../audio/speech.js';
import type { RealtimeDoubleBehaviour, ScriptedFunctionCall } from './behaviour.js';
import {
  CLOSE_BETA_SHAPE,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  DEFAULT_GREETING_TEXT,
  INPUT_TRANSCRIPT_PLACEHOLDER,
  MS_PER_SECOND,
  RATE_LIMIT_REQUESTS,
  RATE_LIMIT_RESET_SECONDS,
  RATE_LIMIT_TOKENS,
  STOP_CLOSE_GRACE_MS,
} from './constants.js';
import { Conversation } from './conversation.js';
import { realtimeErrors } from './errors.js';
import type { RealtimeErrorPayload } from './errors.js';
import { handleClientEvent } from './handlers.js';
import { newId } from './ids.js';
import { InputAudioBuffer } from './input-audio.js';
import type { TurnEvent } from './input-audio.js';
import type { RecordedSession } from './recorded-session.js';
import { ResponseRun } from './response.js';
import { UsageMeter } from './usage.js';
import type { ResponseHost, ResponsePlan } from './response.js';
import { greetingFromInstructions, isObject } from './session-config.js';
import type { JsonObject, SessionConfig } from './session-config.js';

/** Events (either direction) whose base64 audio is replaced by its size in the recording. */
const AUDIO_PAYLOAD_FIELDS: Readonly<Record<string, string>> = {
  'response.output_audio.delta': 'delta',
  'input_audio_buffer.append': 'audio',
};

/**
 * Lets a load test watch the audio on the wire as it passes, without recording
 * it: the bench reads latency stamps in appended audio and stamps the deltas.
 */
export interface RealtimeDoubleTap {
  /** Each `input_audio_buffer.append`, decoded, with its arrival time (`performance.now()`). */
  onAppend?(sessionId: string, audio: Buffer, at: number): void;
  /** Each output audio delta before it is sent; may return a replacement of the same length. */
  onDelta?(sessionId: string, audio: Buffer): Buffer | void;
}

export interface DoubleSessionOptions {
  tap?: RealtimeDoubleTap | undefined;
  /** Record appends and deltas (events and audio bytes). Default true; load tests turn it off. */
  recordFrames?: boolean | undefined;
}

export class DoubleSession implements ResponseHost {
  readonly conversationId = newId('conv');
  readonly conversation = new Conversation();
  readonly input = new InputAudioBuffer();
  readonly usage = new UsageMeter();
  activeResponse: ResponseRun | undefined;
  /** Committed user audio turns so far (server VAD or client commit). */
  userTurnCount = 0;
  /** A function_call_output arrived: the next response is the reply after the tool. */
  toolOutputPending = false;
  /** A user text item arrived (e.g. a key press): the next response answers it. */
  userTextPending: string | undefined;
  /** Item id announced by speech_started, reused by speech_stopped and committed. */
  speechItemId: string | undefined;

  private audioResponsesPlanned = 0;
  private replyIndex = 0;
  private completedResponses = 0;
  private responsesStarted = 0;
  private readonly firedFunctionCalls = new Set<number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  private closedResolve: (() => void) | undefined;
  readonly closed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    readonly recorder: RecordedSession,
    private readonly currentBehaviour: () => RealtimeDoubleBehaviour,
    private readonly options: DoubleSessionOptions = {},
  ) {
    this.closed = new Promise((resolve) => (this.closedResolve = resolve));
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => this.onSocketClosed(code, reason.toString()));
    // Socket errors (resets, protocol violations) end in 'close'; nothing to add here.
    ws.on('error', () => undefined);
  }

  get isOpen(): boolean {
    return !this.closing;
  }

  config(): SessionConfig {
    return this.recorder.config;
  }

  behaviour(): RealtimeDoubleBehaviour {
    return this.currentBehaviour();
  }

  elapsedMs(): number {
    return this.recorder.elapsedMs();
  }

  get recordsFrames(): boolean {
    return this.options.recordFrames ?? true;
  }

  /** Caller audio arrived: recorded (unless frames are not recorded) and shown to the tap. */
  onInputAudio(bytes: Buffer): void {
    if (this.recordsFrames) this.recorder.recordAudio(bytes);
    this.options.tap?.onAppend?.(this.recorder.id, bytes, performance.now());
  }

  outputAudio(chunk: Buffer): Buffer {
    return this.options.tap?.onDelta?.(this.recorder.id, chunk) ?? chunk;
  }

  /** Announces the session and arms its time limits. */
  open(): void {
    this.send({ type: 'session.created', session: this.config() });
    const b = this.behaviour();
    if (b.closeAfterMs !== undefined)
      this.after(b.closeAfterMs, () => this.close(CLOSE_INTERNAL_ERROR, 'closeAfterMs (double failure mode)'));
    this.after(b.maxSessionMs, () => {
      this.sendError(realtimeErrors.sessionExpired());
      this.close(CLOSE_GOING_AWAY, 'session expired');
    });
    this.prewarm(this.greetingText());
  }

  /** The beta interface is switched off: say so and close, as the real API does. */
  refuseBeta(what: string, clientEventId?: string): void {
    this.sendError(realtimeErrors.betaShapeDisabled(what), clientEventId);
    this.close(CLOSE_BETA_SHAPE, 'beta_api_shape_disabled');
  }

  send(event: JsonObject): void {
    if (this.closing) return;
    const full = { event_id: newId('event'), ...event };
    if (this.shouldRecord(full)) this.recorder.recordEvent('server', String(event.type), withoutAudio(full));
    this.ws.send(JSON.stringify(full));
  }

  sendError(error: RealtimeErrorPayload, clientEventId?: string): void {
    this.recorder.recordError(error.code, error.type, error.message);
    this.send({ type: 'error', error: { ...error, event_id: clientEventId ?? null } });
  }

  /** Server-initiated close; a peer that never answers the close frame is cut off after a grace period. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.recorder.recordClose(code, reason, 'server');
    this.shutDown();
    this.ws.close(code, reason);
    const grace = setTimeout(() => this.ws.terminate(), STOP_CLOSE_GRACE_MS);
    void this.closed.then(() => clearTimeout(grace));
  }

  // --- Turns and responses -----------------------------------------------------

  onTurnEvent(event: TurnEvent): void {
    if (event.type === 'speech_started') {
      this.speechItemId = newId('item');
      this.send({
        type: 'input_audio_buffer.speech_started',
        audio_start_ms: Math.round(event.audioStartMs),
        item_id: this.speechItemId,
      });
      const td = this.config().audio.input.turn_detection;
      if (this.activeResponse && (td?.interrupt_response ?? true)) this.activeResponse.cancel('turn_detected');
      return;
    }
    const itemId = this.speechItemId ?? newId('item');
    this.send({
      type: 'input_audio_buffer.speech_stopped',
      audio_end_ms: Math.round(event.audioEndMs),
      item_id: itemId,
    });
    this.commitUserTurn(itemId, 'server_vad', event.audioEndMs);
    const td = this.config().audio.input.turn_detection;
    if ((td?.create_response ?? true) && !this.activeResponse) this.startResponse('server_vad');
  }

  /** Turns the buffered audio into a user item (committed, item added/done). */
  commitUserTurn(itemId: string, by: 'server_vad' | 'client', endMs?: number): void {
    const span = this.input.commit(endMs);
    this.speechItemId = undefined;
    this.userTurnCount += 1;
    this.recorder.userTurns.push({
      item_id: itemId,
      audio_start_ms: span.startMs,
      audio_end_ms: span.endMs,
      committedBy: by,
    });
    this.usage.addCallerAudio(span.endMs - span.startMs);
    const item = {
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null }],
    };
    const { previousItemId } = this.conversation.add(item);
    this.send({ type: 'input_audio_buffer.committed', previous_item_id: previousItemId, item_id: itemId });
    this.send({ type: 'conversation.item.added', previous_item_id: previousItemId, item });
    this.send({ type: 'conversation.item.done', previous_item_id: previousItemId, item });
    if (this.config().audio.input.transcription) {
      // No speech recognition here: the scripted transcript of this turn, else a fixed text that says so.
      // Turns are counted over the conversation, replayed user items included, so a resumed session goes on with the script.
      const transcript =
        this.behaviour().inputTranscripts[this.conversation.userMessageCount() - 1] ?? INPUT_TRANSCRIPT_PLACEHOLDER;
      this.send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: Math.ceil((span.endMs - span.startMs) / MS_PER_SECOND) },
      });
    }
  }

  startResponse(trigger: 'client' | 'server_vad'): void {
    // A response told to fail does not use up the script (the greeting stays the next one planned).
    const failing = this.responsesStarted++ < this.behaviour().failResponses;
    const plan: ResponsePlan = failing ? { kind: 'audio', text: '' } : this.planResponse();
    const run = new ResponseRun(this, plan, trigger, failing);
    this.activeResponse = run;
    this.recorder.responses.push(run.record);
    run.start();
    // Render the following reply while this one plays, so the caller's next turn is answered promptly.
    const replies = this.behaviour().replies;
    const upcoming = replies[this.replyIndex % replies.length];
    if (upcoming) this.prewarm(upcoming);
  }

  responseFinished(run: ResponseRun): void {
    if (this.activeResponse === run) this.activeResponse = undefined;
    this.send({
      type: 'rate_limits.updated',
      rate_limits: [
        {
          name: 'requests',
          limit: RATE_LIMIT_REQUESTS,
          remaining: RATE_LIMIT_REQUESTS - 1,
          reset_seconds: RATE_LIMIT_RESET_SECONDS,
        },
        {
          name: 'tokens',
          limit: RATE_LIMIT_TOKENS,
          remaining: RATE_LIMIT_TOKENS - 1,
          reset_seconds: RATE_LIMIT_RESET_SECONDS,
        },
      ],
    });
    if (run.record.status !== 'completed') return;
    this.completedResponses += 1;
    const limit = this.behaviour().closeAfterResponses;
    if (limit !== undefined && this.completedResponses >= limit)
      this.close(CLOSE_INTERNAL_ERROR, 'closeAfterResponses (double failure mode)');
  }

  /** Renders a phrase ahead of need so the first delta is not held up by synthesis. */
  prewarm(text: string): void {
    const b = this.behaviour();
    const options: { voice?: string; wordsPerMinute?: number } = {};
    if (b.voice !== undefined) options.voice = b.voice;
    if (b.wordsPerMinute !== undefined) options.wordsPerMinute = b.wordsPerMinute;
    // A failure here resurfaces (and is reported) when the response synthesises the same text.
    synthesizeMulaw(text, options).catch(() => undefined);
  }

  greetingText(): string {
    return (
      this.behaviour().greetingText ?? greetingFromInstructions(this.config().instructions) ?? DEFAULT_GREETING_TEXT
    );
  }

  /** Tool reply, then a scripted call for this caller turn, then the greeting, then the replies in turn. */
  private planResponse(): ResponsePlan {
    const b = this.behaviour();
    if (this.toolOutputPending) {
      this.toolOutputPending = false;
      return this.audioPlan(b.replyAfterToolText ?? this.nextReply());
    }
    if (this.userTextPending !== undefined) {
      const text = this.userTextPending;
      this.userTextPending = undefined;
      const call = this.scriptedCall((c) => c.onUserText !== undefined && text.includes(c.onUserText));
      if (call) return call;
      return this.audioPlan(b.replyAfterUserText ?? this.nextReply());
    }
    const call = this.scriptedCall((c) => c.onUserText === undefined && c.onTurn === this.userTurnCount);
    if (call) return call;
    // A session given an earlier conversation (a resumed call) has greeted already: no second greeting.
    const greeted = this.audioResponsesPlanned > 0 || this.conversation.hasAssistantMessage();
    return this.audioPlan(greeted ? this.nextReply() : this.greetingText());
  }

  /** The first scripted function call not yet fired that matches; like the real model, only tools the session declared. */
  private scriptedCall(matches: (call: ScriptedFunctionCall) => boolean): ResponsePlan | undefined {
    const declared = new Set(
      this.config().tools.map((t) => (isObject(t) && t.type === 'function' ? t.name : undefined)),
    );
    const index = this.behaviour().functionCalls.findIndex(
      (c, i) => matches(c) && !this.firedFunctionCalls.has(i) && declared.has(c.name),
    );
    const call = this.behaviour().functionCalls[index];
    if (!call) return undefined;
    this.firedFunctionCalls.add(index);
    const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
    return call.sayFirst === undefined
      ? { kind: 'function_call', name: call.name, arguments: args }
      : { kind: 'audio_then_function_call', text: call.sayFirst, name: call.name, arguments: args };
  }

  private audioPlan(text: string): ResponsePlan {
    this.audioResponsesPlanned += 1;
    return { kind: 'audio', text };
  }

  private nextReply(): string {
    const replies = this.behaviour().replies;
    const text = replies[this.replyIndex % replies.length] ?? DEFAULT_GREETING_TEXT;
    this.replyIndex += 1;
    return text;
  }

  // --- Socket plumbing -------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    if (isBinary) {
      this.sendError(realtimeErrors.binaryFrame());
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(rawToString(data));
    } catch {
      this.sendError(realtimeErrors.invalidJson());
      return;
    }
    if (!isObject(event) || typeof event.type !== 'string') {
      this.sendError(realtimeErrors.missingParameter('type'));
      return;
    }
    if (this.shouldRecord(event)) this.recorder.recordEvent('client', event.type, withoutAudio(event));
    handleClientEvent(this, event);
  }

  private onSocketClosed(code: number, reason: string): void {
    this.recorder.recordClose(code, reason, 'client');
    this.shutDown();
    this.closedResolve?.();
  }

  private shutDown(): void {
    this.closing = true;
    this.activeResponse?.dispose();
    this.activeResponse = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private shouldRecord(event: JsonObject): boolean {
    return this.recordsFrames || AUDIO_PAYLOAD_FIELDS[String(event.type)] === undefined;
  }

  private after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }
}

function withoutAudio(event: JsonObject): JsonObject {
  const field = AUDIO_PAYLOAD_FIELDS[String(event.type)];
  const payload = field ? event[field] : undefined;
  if (!field || typeof payload !== 'string') return event;
  return { ...event, [field]: `<${Buffer.byteLength(payload, 'base64')} bytes>` };
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
