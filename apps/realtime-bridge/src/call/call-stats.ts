/**
 * Timestamps of one call's setup, turned into the metrics the on-call engineer
 * reads: openai_connect_ms, first_greeting_audio_ms and where the time went.
 */
export interface CallStats {
  claimedAt: number;
  /** Epoch ms the gateway received START (from the inbound start entry). */
  streamStartedAt?: number;
  connectStartedAt?: number;
  connectedAt?: number;
  connectAttempts: number;
  promptPath?: 'fast' | 'slow';
  promptReason?: string;
  promptStartedAt?: number;
  promptReadyAt?: number;
  configureSentAt?: number;
  configuredAt?: number;
  greetingRequestedAt?: number;
  modelFirstAudioAt?: number;
  /** warm: session configured and greeting requested before START; cold: after. */
  greetingPath?: 'warm' | 'cold';
  /**
   * The caller was greeted by another bridge's session (this one resumed the call): greetingPath is
   * that greeting's (from the call meta), and this session's setup times are not the greeting's.
   */
  greetedElsewhere?: boolean;
  toolsCount: number;
  bargeIns: number;
  /** Hold clips the gateway was asked to play while the model was not speaking. */
  holdClips: number;
  fallbackReason?: string;
  /** The agent ended the call itself (end_call / transfer_call): the call's end reason. */
  agentEnded?: 'agent_hangup' | 'agent_transfer';
}

export interface CallMetricFields {
  openai_connect_ms?: number;
  first_greeting_audio_ms?: number;
  /** Breakdown of first_greeting_audio_ms. */
  connect_ms?: number;
  wait_prompt_ms?: number;
  configure_ms?: number;
  model_first_audio_ms?: number;
  total_ms?: number;
  connect_attempts: number;
  prompt_path?: string;
  greeting_path?: string;
  barge_ins: number;
}

const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? Math.max(0, a - b) : undefined);

export function callMetrics(stats: CallStats, firstAudioAt?: number): CallMetricFields {
  const setupStart = stats.streamStartedAt ?? stats.claimedAt;
  // The breakdown of the greeting's time, where this bridge's session made the greeting.
  const breakdown = stats.greetedElsewhere
    ? {}
    : {
        connect_ms: diff(stats.connectedAt, stats.connectStartedAt),
        wait_prompt_ms: diff(stats.promptReadyAt, stats.promptStartedAt),
        configure_ms: diff(stats.configuredAt, stats.configureSentAt),
        model_first_audio_ms: diff(stats.modelFirstAudioAt, stats.greetingRequestedAt),
        total_ms: diff(firstAudioAt, setupStart),
      };
  return {
    openai_connect_ms: diff(stats.connectedAt, stats.connectStartedAt),
    first_greeting_audio_ms: diff(firstAudioAt, stats.streamStartedAt),
    ...breakdown,
    connect_attempts: stats.connectAttempts,
    prompt_path: stats.promptPath,
    greeting_path: stats.greetingPath,
    barge_ins: stats.bargeIns,
  };
}
