/**
 * How a call that never got its agent is judged at the end (closed sets, STYLE 18):
 * - silent failure: the caller heard nothing useful and nothing told them why;
 * - abandoned: the caller was hearing the hold clip and hung up while the session
 *   was still being set up. That is the caller's choice, not the system leaving
 *   them in silence; the timeline says at which setup stage it happened.
 * A fallback (the caller was told) is neither.
 */
import type { StopRecord } from '@voice/media-link';
import type { CallStats } from './call-stats.js';
import { HANGUP_DURING_RECONNECT } from './lost-stream.js';

export type StopEntry = Omit<StopRecord, 't' | 'call'>;

export type SilentFailureReason =
  /** Not one frame reached the caller. */
  | 'no_audio_sent'
  /** Only hold clips: the model was set up but never spoke, and nothing sent the caller to the fallback. */
  | 'no_model_audio'
  /** A response ran SILENT_RESPONSE_MS without producing audio (recorded mid-call). */
  | 'response_without_audio';

/** The end_reason of an abandoned call (call.ended, the calls row, bridge_calls_ended_total). */
export const CALLER_ABANDONED = 'caller_abandoned';

/** Where setup was when the caller hung up: still opening the model session, or configuring it (prompt, session.update). */
export type AbandonedStage = 'connecting' | 'configuring';

/**
 * Stop reasons that mean the caller's side ended the stream (Twilio's `stop`, its socket closing, or
 * a hangup while a lost stream was being reconnected, which Twilio's REST API told: lost-stream.ts).
 */
const CALLER_HANGUPS: ReadonlySet<string> = new Set(['twilio_stop', 'socket_closed', HANGUP_DURING_RECONNECT]);

/**
 * The setup stage at which the caller abandoned the call, or undefined when the call was not
 * abandoned. Setup lasts until the greeting is requested from a configured session; after that
 * a model that does not speak is the model's failure (no_model_audio), not the caller's choice.
 * A hangup before any audio reached the caller stays a silent failure (no_audio_sent): the hold
 * clip must have been played and sent. A caller who heard the model (on this or an earlier bridge)
 * did not abandon a setup.
 */
export function abandonedStage(stats: CallStats, stop: StopEntry): AbandonedStage | undefined {
  if (!CALLER_HANGUPS.has(stop.reason) || stats.fallbackReason) return undefined;
  if (stats.greetingRequestedAt !== undefined || stats.modelFirstAudioAt !== undefined) return undefined;
  // The caller heard the model already (the gateway's firstAudioAt, from any bridge): a call resumed
  // here after its bridge died is a conversation, not a setup the caller gave up on.
  if (stop.firstAudioAt !== undefined) return undefined;
  if (stats.holdClips === 0 || stop.tx === 0) return undefined;
  return stats.connectedAt === undefined ? 'connecting' : 'configuring';
}

/**
 * A real call in which the caller heard nothing useful: no audio at all, or only hold clips
 * because the model never spoke and nothing sent the caller to the fallback.
 */
export function silentFailureReason(stats: CallStats, stop: StopEntry): SilentFailureReason | undefined {
  if (stop.tx === 0) return 'no_audio_sent';
  // The gateway's firstAudioAt counts model audio only, from whichever bridge: a call taken over
  // from a bridge whose model spoke is not silent because the new session had nothing to add.
  if (stats.modelFirstAudioAt === undefined && stop.firstAudioAt === undefined && !stats.fallbackReason)
    return 'no_model_audio';
  return undefined;
}
