/**
 * Opening and configuring a Realtime session for a call: the first time, and
 * again when the model drops mid-call (with the conversation so far). Every
 * step goes on the call's timeline.
 */
import type OpenAI from 'openai';
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { Logger } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { connectRealtime } from '../realtime/connect.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import { buildSessionUpdate } from '../realtime/session-config.js';
import type { ConversationRecord } from './conversation-record.js';
import type { ResolvedPrompt } from './prompt-source.js';

export interface SetupDeps {
  callSid: string;
  openai: OpenAI;
  openaiConfig: OpenAIConfig;
  config: CallConfig;
  timeline: Timeline;
  logger: Logger;
  metrics: BridgeMetrics;
}

export interface SessionHooks {
  onEvent(rt: OpenAIRealtimeWS, event: RealtimeServerEvent): void;
  onClosed(rt: OpenAIRealtimeWS, code: number, reason: string): void;
}

export interface OpenedSession {
  rt: OpenAIRealtimeWS;
  attempts: number;
  connectMs: number;
}

/** Connects (with the given attempt budget) and wires the session's events to the call. */
export async function openSession(
  deps: SetupDeps,
  hooks: SessionHooks,
  budget: { attempts: number; timeoutMs: number },
  signal: AbortSignal,
): Promise<OpenedSession> {
  const started = Date.now();
  const connection = await connectRealtime(
    deps.openai,
    { ...deps.openaiConfig, connectAttempts: budget.attempts, connectTimeoutMs: budget.timeoutMs },
    {
      onAttempt: (attempt) => {
        void deps.timeline.record(deps.callSid, 'openai.connecting', { attempt }, { logger: deps.logger });
      },
      onAttemptFailed: (attempt, error, willRetry) => {
        if (willRetry) deps.metrics.connectRetries.inc({ reason: error.reason });
        deps.logger.warn('openai connect attempt failed', {
          attempt,
          reason: error.reason,
          willRetry,
          error: error.message,
        });
      },
    },
    signal,
  );
  const rt = connection.rt;
  rt.on('event', (event) => hooks.onEvent(rt, event));
  rt.on('error', (err) => deps.logger.warn('realtime client error', { error: err.message }));
  rt.socket.on('close', (code, reason) => hooks.onClosed(rt, code, reason.toString()));
  void deps.timeline.record(
    deps.callSid,
    'openai.connected',
    {
      attempt: connection.attempt,
      ms: connection.totalMs,
      attempt_ms: connection.attemptMs,
      session_id: connection.sessionId,
    },
    { logger: deps.logger },
  );
  return { rt, attempts: connection.attempt, connectMs: Date.now() - started };
}

/**
 * Sends session.update (prompt, audio/pcmu, VAD, tools, input transcription)
 * and waits for session.updated; records the settings on the conversation
 * record; then, for a session that continues a call (`replay`), gives it the
 * conversation so far as items (no response is asked for: no second greeting).
 * `updated` is armed by the caller before the send so the event cannot be missed.
 * An abort of `signal` whose reason is an OpenAIConnectError (the connect deadline) ends the wait with it.
 */
export async function configureSession(
  deps: SetupDeps,
  rt: OpenAIRealtimeWS,
  resolved: ResolvedPrompt,
  updated: Promise<void>,
  conversation: ConversationRecord,
  replay = false,
  signal?: AbortSignal,
): Promise<{ ms: number; tools: number; replayed: number; replayedUpTo: number }> {
  const update = buildSessionUpdate(resolved.prompt, deps.config.vad, deps.config.inputTranscriptionModel);
  const tools = resolved.prompt.toolNames;
  if (tools.length === 0) deps.logger.info('no tools for this business: pure conversation');
  const sentAt = Date.now();
  rt.send(update);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const outcome = await Promise.race([
    updated.then(() => 'updated' as const),
    new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), deps.openaiConfig.connectTimeoutMs)),
    ),
    new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort) signal?.removeEventListener('abort', onAbort);
  if (outcome === 'timeout')
    throw new OpenAIConnectError('OPENAI_CONNECT_TIMEOUT', 'no session.updated after session.update');
  if (outcome === 'aborted') {
    const reason: unknown = signal?.reason;
    throw reason instanceof OpenAIConnectError
      ? reason
      : new OpenAIConnectError('OPENAI_CLOSED', 'call ended while configuring');
  }
  const replayedUpTo = conversation.entryCount;
  const items = replay ? conversation.toItems(deps.config.session.replayMaxItems) : [];
  for (const item of items) rt.send(item);
  conversation.append({
    kind: 'session',
    session: conversation.sessionCount + 1,
    instructions: resolved.prompt.instructions,
    voice: resolved.prompt.voice,
    tools: tools.join(','),
    transcription_model: deps.config.inputTranscriptionModel,
    prompt_path: resolved.path,
  });
  const ms = Date.now() - sentAt;
  deps.metrics.promptPath.inc({ path: resolved.path });
  await deps.timeline.record(
    deps.callSid,
    'session.configured',
    {
      prompt_path: resolved.path,
      prompt_reason: resolved.reason,
      prompt_chars: resolved.prompt.instructions.length,
      tools: tools.length,
      tool_names: tools.join(','),
      history_items: replay ? items.length : undefined,
      ms,
    },
    { logger: deps.logger },
  );
  return { ms, tools: tools.length, replayed: items.length, replayedUpTo };
}
