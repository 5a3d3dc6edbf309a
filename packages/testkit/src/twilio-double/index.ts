export { placeCall, TwilioCallerDouble } from './caller.js';
export type {
  CallEndReason,
  CallState,
  CallSummary,
  CallWarning,
  ApiUpdate,
  ClearRecord,
  MarkEcho,
  PlaceCallOptions,
  ReceivedMessage,
  SpokenByTwilio,
} from './types.js';
export { FrameClock } from './frame-clock.js';
export type { FrameClockOptions, FrameClockStats, FrameHook, FrameTick, OutgoingFrame } from './frame-clock.js';
export { DEFAULT_CALLER_SCRIPT, renderScript } from './caller-script.js';
export type { ScriptSegment } from './caller-script.js';
export type { DtmfPress, MediaHook, MediaStreamSession, StreamEnd, StreamEndedBy } from './media-stream.js';
export { parseTwiml, TwimlParseError } from './twiml.js';
export type { StreamNoun, TwimlVerb } from './twiml.js';
export { signStreamUpgrade, signWebhook, TWILIO_SIGNATURE_HEADER } from './signing.js';
export { assembleTimeline, audibleMs, longestSilence, mulawToWav } from './heard-audio.js';
export type { HeardSegment } from './heard-audio.js';
export { AUDIBLE_RMS_THRESHOLD, CALLER_DEFAULTS, TWILIO_ERROR } from './constants.js';
export {
  validateCallCreate,
  twilioError,
  CALL_STATUS_EVENTS,
  MACHINE_DETECTION_MODES,
  CALL_CREATE_LIMITS,
} from './call-create.js';
export type {
  CallCreateRequest,
  CallCreateResult,
  CallStatusEvent,
  MachineDetectionMode,
  TwilioApiError,
} from './call-create.js';
export { OutboundCall, OUTBOUND_DEFAULTS } from './outbound-call.js';
export type { CalleeAnswer, CalleeBehaviour, OutboundCallEvent } from './outbound-call.js';
