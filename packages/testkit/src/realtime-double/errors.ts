/**
 * The `error` payloads the double sends. Codes and wording follow the real API
 * where they are known (commit_empty, already_has_active_response,
 * cancel_not_active, the truncate message); codes marked "double's own" are
 * this double's choice where the real API's exact code is undocumented.
 */

export interface RealtimeErrorPayload {
  type: 'invalid_request_error' | 'server_error';
  code: string;
  message: string;
  param: string | null;
}

const invalid = (code: string, message: string, param: string | null = null): RealtimeErrorPayload => ({
  type: 'invalid_request_error',
  code,
  message,
  param,
});

export const realtimeErrors = {
  betaShapeDisabled: (what: string) =>
    invalid('beta_api_shape_disabled', `The Realtime beta API shape is disabled (${what}); use the GA interface.`),
  unknownEvent: (type: string) => invalid('unknown_event', `Unknown event type '${type}'.`, 'type'),
  invalidJson: () => invalid('invalid_json', 'The event is not valid JSON.'), // double's own code
  binaryFrame: () => invalid('invalid_json', 'Binary frames are not accepted; send JSON text events.'),
  missingParameter: (param: string) =>
    invalid('missing_required_parameter', `Missing required parameter: '${param}'.`, param),
  unknownParameter: (param: string) => invalid('unknown_parameter', `Unknown parameter: '${param}'.`, param),
  invalidValue: (param: string, message: string) => invalid('invalid_value', message, param),
  commitEmpty: (bufferedMs: number, minMs: number) =>
    invalid(
      'input_audio_buffer_commit_empty',
      `Error committing input audio buffer: buffer too small. Expected at least ${minMs}ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.`,
    ),
  activeResponse: (responseId: string) =>
    invalid(
      'conversation_already_has_active_response',
      `Conversation already has an active response in progress: ${responseId}. Wait until the response is finished before creating a new one.`,
    ),
  cancelNotActive: () => invalid('response_cancel_not_active', 'Cancellation failed: no active response found.'),
  itemNotFound: (param: string, itemId: string) =>
    invalid('invalid_value', `Item with item_id '${itemId}' not found.`, param),
  truncateTooLong: (audioMs: number, requestedMs: number) =>
    invalid(
      'invalid_value',
      `Audio content of ${Math.floor(audioMs)}ms is already shorter than ${requestedMs}ms`,
      'audio_end_ms',
    ),
  sessionExpired: () => invalid('session_expired', 'Your session hit the maximum duration of 60 minutes.'),
  serverError: (): RealtimeErrorPayload => ({
    type: 'server_error',
    code: 'server_error',
    message: 'The server had an error while processing your request. Sorry about that!',
    param: null,
  }),
};
