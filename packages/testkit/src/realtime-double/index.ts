export { RealtimeDouble, RealtimeDoubleStateError } from './server.js';
export type { RealtimeDoubleOptions } from './server.js';
export type { RealtimeDoubleTap } from './session.js';
export { DEFAULT_BEHAVIOUR, RealtimeDoubleConfigError } from './behaviour.js';
export type { RealtimeDoubleBehaviour, ScriptedFunctionCall } from './behaviour.js';
export { RecordedSession, RealtimeDoubleWaitError } from './recorded-session.js';
export type {
  RecordedError,
  RecordedEvent,
  RecordedFunctionCallOutput,
  RecordedItem,
  RecordedResponse,
  RecordedTextItem,
  RecordedTruncate,
  RecordedUserTurn,
  ResponseStatus,
  SessionCloseRecord,
  WaitOptions,
} from './recorded-session.js';
export type { AudioFormat, SessionConfig, TurnDetection } from './session-config.js';
export {
  CLOSE_BETA_SHAPE,
  DEFAULT_GREETING_TEXT,
  DEFAULT_REPLIES,
  LONG_REPLY_TEXT,
  MIN_COMMIT_MS,
  REALTIME_PATH,
  VAD_RMS_AT_FULL_THRESHOLD,
} from './constants.js';
export { connectRealtimeTestClient, DEFAULT_TEST_MODEL } from './test-client.js';
export type { RealtimeTestClient, RealtimeTestClientOptions, ServerEvent } from './test-client.js';
