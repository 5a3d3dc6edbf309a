/**
 * What the double does, changeable between (and during) calls with
 * `RealtimeDouble.setBehaviour()`. Sessions read the live object whenever they
 * need a value, so a change applies to the next decision of every session.
 */
import {
  DEFAULT_DELTA_MS,
  DEFAULT_FIRST_AUDIO_DELAY_MS,
  DEFAULT_MAX_SESSION_MS,
  DEFAULT_REALTIME_FACTOR,
  DEFAULT_REPLIES,
} from './constants.js';

export interface ScriptedFunctionCall {
  /**
   * Caller turn (1-based, counting committed user audio turns) whose response is
   * this call. Fires only if the session declared a function tool of this name.
   * Use 0 with `onUserText` to fire on a text item instead.
   */
  onTurn: number;
  /** Fire in answer to a user text item containing this (e.g. "pressed 0"), instead of an audio turn. */
  onUserText?: string;
  name: string;
  /** Serialised with JSON.stringify unless already a string. */
  arguments: Record<string, unknown> | string;
  /**
   * Speak this first, in the same response: an audio item, then the function call item
   * (as the real model often does: "Goodbye!" and end_call together). Default: the call alone.
   */
  sayFirst?: string;
}

export interface RealtimeDoubleBehaviour {
  /** Words of the first audio response; else a `Greeting:` line in the instructions; else a default. */
  greetingText: string | undefined;
  /** Words of later responses, used in turn and cycled. */
  replies: readonly string[];
  /** Words of the response that follows a `function_call_output`; else the next reply. */
  replyAfterToolText: string | undefined;
  /** Words of the response that answers a user text item (e.g. a key press); else the next reply. */
  replyAfterUserText: string | undefined;
  functionCalls: readonly ScriptedFunctionCall[];
  /**
   * With input transcription on: the transcript of caller turn n is entry n-1, where n counts the
   * session's user messages (replayed ones included, so a resumed session continues the script);
   * past the end, a fixed text saying the double does not transcribe.
   */
  inputTranscripts: readonly string[];
  /** espeak-ng voice and speed for the response audio. */
  voice: string | undefined;
  wordsPerMinute: number | undefined;

  /** Audio per output delta, in ms. */
  deltaMs: number;
  /** How much faster than real time deltas are sent (4 = a 1 s delta every 250 ms). */
  realtimeFactor: number;
  /** Delay between the response starting and its first audio delta. */
  firstAudioDelayMs: number;

  /** Delay before the WebSocket upgrade is answered. */
  connectDelayMs: number;
  /** Answer the upgrade with this HTTP status (e.g. 500, 503) instead of accepting it. */
  rejectUpgradeStatus: number | undefined;
  /** Accept TCP and TLS, then never answer the upgrade. */
  hangUpgrade: boolean;
  /**
   * Accept TCP and TLS, and answer the upgrade only when a test turns this off again
   * (`setBehaviour({ holdUpgrades: false })`): orders the model's connect against other events.
   */
  holdUpgrades: boolean;
  /** Destroy every new TCP connection at once. */
  refuseConnections: boolean;
  /** Close each session with 1011 this long after `session.created`. */
  closeAfterMs: number | undefined;
  /** Close each session with 1011 after this many completed responses. */
  closeAfterResponses: number | undefined;
  /** Answer `response.create` with a `server_error` error event instead of a response. */
  errorOnResponseCreate: boolean;
  /**
   * Each session's first this-many responses end `failed` (status_details.error server_error) after
   * `firstAudioDelayMs`, before any audio, as the real API's response.done does when the model fails.
   */
  failResponses: number;
  /** Close the session (1001) after this long, like the real 60-minute limit. */
  maxSessionMs: number;
}

export const DEFAULT_BEHAVIOUR: Readonly<RealtimeDoubleBehaviour> = Object.freeze({
  greetingText: undefined,
  replies: DEFAULT_REPLIES,
  replyAfterToolText: undefined,
  replyAfterUserText: undefined,
  functionCalls: [],
  inputTranscripts: [],
  voice: undefined,
  wordsPerMinute: undefined,
  deltaMs: DEFAULT_DELTA_MS,
  realtimeFactor: DEFAULT_REALTIME_FACTOR,
  firstAudioDelayMs: DEFAULT_FIRST_AUDIO_DELAY_MS,
  connectDelayMs: 0,
  rejectUpgradeStatus: undefined,
  hangUpgrade: false,
  holdUpgrades: false,
  refuseConnections: false,
  closeAfterMs: undefined,
  closeAfterResponses: undefined,
  errorOnResponseCreate: false,
  failResponses: 0,
  maxSessionMs: DEFAULT_MAX_SESSION_MS,
});

export class RealtimeDoubleConfigError extends Error {
  override name = 'RealtimeDoubleConfigError';
}

/** Rejects values that would make the double hang or spin instead of failing clearly. */
export function validateBehaviour(b: RealtimeDoubleBehaviour): void {
  if (!(b.deltaMs > 0)) throw new RealtimeDoubleConfigError(`deltaMs must be > 0, got ${b.deltaMs}`);
  if (!(b.realtimeFactor > 0))
    throw new RealtimeDoubleConfigError(`realtimeFactor must be > 0, got ${b.realtimeFactor}`);
  if (b.replies.length === 0) throw new RealtimeDoubleConfigError('replies must hold at least one text');
  if (!(Number.isInteger(b.failResponses) && b.failResponses >= 0))
    throw new RealtimeDoubleConfigError(`failResponses must be a whole number >= 0, got ${b.failResponses}`);
  if (b.rejectUpgradeStatus !== undefined && (b.rejectUpgradeStatus < 400 || b.rejectUpgradeStatus > 599)) {
    throw new RealtimeDoubleConfigError(
      `rejectUpgradeStatus must be an HTTP error status, got ${b.rejectUpgradeStatus}`,
    );
  }
}
