/**
 * The small state one call's collaborators share (STYLE 15): the lifecycle
 * phase, the current model session, who is calling, and which response is
 * which. CallSession's lifecycle collaborators (CallSetup, LiveStart,
 * ModelReconnect, SessionRecycler, CallEnding) move the phase; ModelEvents
 * reacts to the model; they read and write this, nothing else.
 */
import type { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { CallStats } from './call-stats.js';

export type CallPhase = 'setup' | 'warm' | 'live' | 'reconnecting' | 'ending' | 'ended';

export class CallState {
  phase: CallPhase = 'setup';
  /** The model session in use (replaced when it drops and the call resumes on a new one). */
  rt: OpenAIRealtimeWS | undefined;
  businessId = '';
  callerNumber = '';
  /** The next response.created is the greeting. */
  greetingPending = false;
  greetingResponseId: string | undefined;
  activeResponseId: string | undefined;
  /**
   * Epoch ms of a response.create sent mid-call (a tool's answer, a keypad entry's, a call-control
   * line) that no response.created has answered yet: the agent is about to speak.
   */
  responseRequestedAt: number | undefined;
  /** Epoch ms the current model session was opened (recycled before the server's limit). */
  sessionOpenedAt = 0;
  /** The model's VAD heard the caller start and not yet stop. */
  callerSpeaking = false;
  /** Caller turns committed whose transcription has not arrived yet: item id -> epoch ms committed. */
  readonly pendingTranscriptions = new Map<string, number>();
  /** The server said the current session hit its maximum duration (it closes next). */
  sessionExpired = false;
  readonly stats: CallStats = { claimedAt: Date.now(), connectAttempts: 0, toolsCount: 0, bargeIns: 0, holdClips: 0 };

  /** The model session was replaced: no response of the old one is under way or on its way. */
  forgetResponses(): void {
    this.activeResponseId = undefined;
    this.responseRequestedAt = undefined;
  }

  get finished(): boolean {
    return this.phase === 'ending' || this.phase === 'ended';
  }

  /** Model audio can go toward the caller (live, or held for the gateway while warm). */
  get speaking(): boolean {
    return this.phase === 'live' || this.phase === 'warm';
  }
}
