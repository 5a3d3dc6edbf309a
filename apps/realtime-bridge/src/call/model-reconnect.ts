/**
 * The model dropped mid-call: the caller hears the hold clip while a new session resumes the
 * conversation, within RECONNECT_* and, caller-facing, OPENAI_CONNECT_DEADLINE_MS from the drop.
 * A session that cannot be had in time sends the caller to the fallback.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { CallConfig, OpenAIConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import type { AgentControl } from './agent-control.js';
import type { CallerStream } from './caller-stream.js';
import type { CallState } from './call-state.js';
import type { CallTimeline } from './call-timeline.js';
import { ConnectDeadline } from './connect-deadline.js';
import type { ConversationRecord } from './conversation-record.js';
import { recordConnectFailure } from './fallback.js';
import type { HoldAudio } from './hold-audio.js';
import type { LiveStart } from './live-start.js';
import type { ModelEvents } from './model-events.js';
import type { ResolvedPrompt } from './prompt-source.js';
import { configureSession, openSession, type SessionHooks, type SetupDeps } from './session-setup.js';

export interface ModelReconnectDeps {
  callSid: string;
  config: CallConfig;
  openaiConfig: OpenAIConfig;
  metrics: BridgeMetrics;
  timeline: Timeline;
  logger: Logger;
  state: CallState;
  caller: CallerStream;
  agentControl: AgentControl;
  hold: HoldAudio;
  conversation: ConversationRecord;
  model: ModelEvents;
  live: LiveStart;
  tl: CallTimeline;
  sessionSetup: SetupDeps;
  hooks: SessionHooks;
  /** Aborted when the call ends. */
  callSignal: AbortSignal;
  fallback(reason: string): void;
}

export class ModelReconnect {
  constructor(private readonly deps: ModelReconnectDeps) {}

  async reconnect(prompt: ResolvedPrompt): Promise<void> {
    const { deps } = this;
    const { state, conversation } = deps;
    state.phase = 'reconnecting';
    state.rt = undefined;
    deps.caller.disconnect();
    state.forgetResponses();
    deps.agentControl.onSessionReplaced();
    deps.hold.playNow();
    const started = Date.now();
    const deadline = new ConnectDeadline(deps.openaiConfig.connectDeadlineMs);
    deadline.arm(started);
    const signal = AbortSignal.any([deps.callSignal, deadline.signal]);
    void deps.tl.record('openai.reconnecting', { items: conversation.itemCount }, 'warn');
    try {
      const budget = { attempts: deps.config.reconnectAttempts, timeoutMs: deps.config.reconnectTimeoutMs };
      const opened = await openSession(deps.sessionSetup, deps.hooks, budget, signal);
      if (state.phase !== 'reconnecting') return opened.rt.close();
      state.rt = opened.rt;
      state.sessionOpenedAt = Date.now();
      const configured = await configureSession(
        deps.sessionSetup,
        opened.rt,
        prompt,
        deps.model.armSessionUpdated(),
        conversation,
        true,
        signal,
      );
      if (state.phase !== 'reconnecting') return;
      void deps.tl.record('openai.reconnected', { ms: Date.now() - started, items: configured.replayed });
      deps.live.goLive('resume');
    } catch (err) {
      if (state.phase !== 'reconnecting') return;
      if (err instanceof OpenAIConnectError && err.reason === 'OPENAI_CONNECT_DEADLINE')
        return deps.fallback(recordConnectFailure(deps, err));
      deps.logger.error('could not resume the conversation', errorFields(err));
      deps.fallback('OPENAI_CLOSED');
    } finally {
      deadline.disarm();
    }
  }
}
