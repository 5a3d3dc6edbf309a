/**
 * Every number the Realtime double uses, in one place. Values that mirror the
 * real API say so; values that are the double's own choices say why.
 */

export const DEFAULT_HOST = '127.0.0.1';
/** The SDK appends `/realtime` to `baseURL`, and `baseURL` ends in `/v1`. */
export const API_PATH_PREFIX = '/v1';
export const REALTIME_PATH = `${API_PATH_PREFIX}/realtime`;

// --- What the double says -------------------------------------------------
export const DEFAULT_GREETING_TEXT = 'Hello, how can I help you today?';
export const DEFAULT_REPLIES: readonly string[] = [
  'Sure, I can help with that. What day works best for you?',
  'Great, I have noted that. Is there anything else I can do for you?',
];
/** About twelve seconds of speech: long enough to barge in on at any realtime factor used in tests. */
export const LONG_REPLY_TEXT =
  'Thanks for calling. Our office is open Monday to Friday from nine in the morning until five in the evening, ' +
  'and on Saturdays from ten until two. We can book, move or cancel an appointment, answer questions about prices, ' +
  'and tell you where to park when you visit us.';
/** A line `Greeting: <text>` in the session instructions sets the first response's words. */
export const GREETING_LINE_PATTERN = /^\s*greeting\s*:\s*(.+?)\s*$/im;

/** Sent as the caller's transcript when input transcription is on: the double does not recognise speech. */
export const INPUT_TRANSCRIPT_PLACEHOLDER = '[caller audio; the Realtime double does not transcribe]';
export const MS_PER_SECOND = 1000;

// --- Response pacing ------------------------------------------------------
/** Audio per `response.output_audio.delta`; the real API sends roughly this much per event. */
export const DEFAULT_DELTA_MS = 100;
/** The real API generates faster than real time; 4x keeps tests quick yet leaves time to barge in. */
export const DEFAULT_REALTIME_FACTOR = 4;
/** Extra wait before the first audio delta (the bench uses ~400 ms to look like the real model). */
export const DEFAULT_FIRST_AUDIO_DELAY_MS = 0;
/** Function-call arguments are streamed in slices of this many characters. */
export const FUNCTION_ARGUMENTS_DELTA_CHARS = 24;

// --- Session limits (mirroring the real API) -------------------------------
export const DEFAULT_MAX_SESSION_MS = 60 * 60 * 1000;
/** `input_audio_buffer.commit` with less audio than this fails with `input_audio_buffer_commit_empty`. */
export const MIN_COMMIT_MS = 100;
export const SESSION_EXPIRY_SECONDS = DEFAULT_MAX_SESSION_MS / 1000;

// --- Server VAD -------------------------------------------------------------
/** Energy is measured per 20 ms window, the Twilio frame size. */
export const VAD_FRAME_MS = 20;
/**
 * RMS (linear 16-bit units) that `threshold: 1.0` maps to; `threshold` scales it
 * linearly, so the default 0.5 means RMS 200. espeak speech frames sit between
 * about 300 and 9000, digital silence (0xFF) is 0 and line hiss is well under 100.
 */
export const VAD_RMS_AT_FULL_THRESHOLD = 400;
/** Consecutive loud audio needed before speech counts as started: one click is not a turn. */
export const VAD_MIN_SPEECH_MS = 40;
/** The real API's documented server_vad defaults. */
export const SERVER_VAD_DEFAULTS = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  idle_timeout_ms: null,
  create_response: true,
  interrupt_response: true,
} as const;

// --- Audio formats ------------------------------------------------------------
export const PCMU_BYTES_PER_MS = 8;
/** `audio/pcm` is 24 kHz 16-bit mono: 48 bytes per ms. */
export const PCM16_RATE_HZ = 24000;
export const PCM16_BYTES_PER_MS = (PCM16_RATE_HZ / 1000) * 2;

// --- Close codes ----------------------------------------------------------------
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_BETA_SHAPE = 4000;
/** After sending a close frame on stop(), wait this long for the client's reply before cutting the socket. */
export const STOP_CLOSE_GRACE_MS = 250;

// --- Usage and rate limits (plausible numbers; nothing asserts on them) ------------
export const INPUT_AUDIO_MS_PER_TOKEN = 100;
export const OUTPUT_AUDIO_MS_PER_TOKEN = 50;
export const TEXT_CHARS_PER_TOKEN = 4;
export const RATE_LIMIT_REQUESTS = 5000;
export const RATE_LIMIT_TOKENS = 40000;
export const RATE_LIMIT_RESET_SECONDS = 60;

// --- Recording ------------------------------------------------------------------------
/** How long the RecordedSession wait helpers wait by default. */
export const DEFAULT_WAIT_TIMEOUT_MS = 5000;
