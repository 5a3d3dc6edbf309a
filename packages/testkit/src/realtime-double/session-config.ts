/**
 * The effective GA session configuration: defaults as the real API reports
 * them in `session.created`, and `session.update` merged into it. Beta-shaped
 * updates are recognised here so the session can refuse them.
 */
import { GREETING_LINE_PATTERN, SERVER_VAD_DEFAULTS, SESSION_EXPIRY_SECONDS } from './constants.js';
import { realtimeErrors } from './errors.js';
import type { RealtimeErrorPayload } from './errors.js';

export type JsonObject = { [key: string]: unknown };

export type AudioFormatType = 'audio/pcm' | 'audio/pcmu' | 'audio/pcma';

export interface AudioFormat {
  type: AudioFormatType;
  rate?: number;
}

export interface TurnDetection {
  type: 'server_vad' | 'semantic_vad';
  threshold?: number;
  prefix_padding_ms?: number;
  silence_duration_ms?: number;
  idle_timeout_ms?: number | null;
  create_response?: boolean;
  interrupt_response?: boolean;
  eagerness?: string;
}

export interface SessionConfig {
  type: 'realtime';
  object: 'realtime.session';
  id: string;
  model: string;
  expires_at: number;
  output_modalities: string[];
  instructions: string;
  audio: {
    input: {
      format: AudioFormat;
      transcription: unknown;
      noise_reduction: unknown;
      turn_detection: TurnDetection | null;
    };
    output: { format: AudioFormat; voice: string; speed: number };
  };
  tools: unknown[];
  tool_choice: unknown;
  max_output_tokens: number | 'inf';
  tracing: unknown;
  truncation: unknown;
  prompt: unknown;
  include: unknown;
}

const DEFAULT_INSTRUCTIONS = 'You are a helpful, witty, and friendly AI.';
const DEFAULT_VOICE = 'alloy';
const DEFAULT_PCM_FORMAT: AudioFormat = { type: 'audio/pcm', rate: 24000 };
const SUPPORTED_FORMATS: readonly string[] = ['audio/pcm', 'audio/pcmu'];
const TURN_DETECTION_TYPES: readonly string[] = ['server_vad', 'semantic_vad'];
/** Fields the server owns; an update cannot change them. */
const READ_ONLY_KEYS: readonly string[] = ['id', 'object', 'expires_at'];
/** Top-level session fields that exist only in the beta shape. */
const BETA_SESSION_KEYS: readonly string[] = [
  'modalities',
  'input_audio_format',
  'output_audio_format',
  'input_audio_transcription',
  'input_audio_noise_reduction',
  'turn_detection',
  'voice',
  'max_response_output_tokens',
];

export function createDefaultSessionConfig(id: string, model: string, nowMs: number): SessionConfig {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model,
    expires_at: Math.floor(nowMs / 1000) + SESSION_EXPIRY_SECONDS,
    output_modalities: ['audio'],
    instructions: DEFAULT_INSTRUCTIONS,
    audio: {
      input: {
        format: { ...DEFAULT_PCM_FORMAT },
        transcription: null,
        noise_reduction: null,
        turn_detection: { ...SERVER_VAD_DEFAULTS },
      },
      output: { format: { ...DEFAULT_PCM_FORMAT }, voice: DEFAULT_VOICE, speed: 1 },
    },
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    truncation: 'auto',
    prompt: null,
    include: null,
  };
}

export type SessionUpdateResult =
  | { kind: 'ok'; config: SessionConfig }
  | { kind: 'error'; error: RealtimeErrorPayload }
  | { kind: 'beta'; what: string };

/** Validates a `session.update` payload and returns the merged configuration (the input is not modified). */
export function applySessionUpdate(current: SessionConfig, patch: unknown): SessionUpdateResult {
  if (!isObject(patch)) return { kind: 'error', error: realtimeErrors.missingParameter('session') };
  const betaKey = BETA_SESSION_KEYS.find((k) => k in patch);
  if (patch.type === undefined) {
    if (betaKey) return { kind: 'beta', what: `session.update with beta field '${betaKey}'` };
    return { kind: 'error', error: realtimeErrors.missingParameter('session.type') };
  }
  if (patch.type !== 'realtime') {
    return {
      kind: 'error',
      error: realtimeErrors.invalidValue(
        'session.type',
        `Cannot change a realtime session to type '${String(patch.type)}'.`,
      ),
    };
  }
  if (betaKey) return { kind: 'error', error: realtimeErrors.unknownParameter(`session.${betaKey}`) };
  const invalid = validateAudio(patch.audio);
  if (invalid) return { kind: 'error', error: invalid };

  const cleaned = Object.fromEntries(Object.entries(patch).filter(([k]) => !READ_ONLY_KEYS.includes(k)));
  const merged = deepMerge(structuredClone(current) as unknown as JsonObject, cleaned) as unknown as SessionConfig;
  merged.audio.input.turn_detection = mergeTurnDetection(current.audio.input.turn_detection, turnDetectionPatch(patch));
  // A format is replaced whole: merging would leave pcm's `rate` on a pcmu format.
  for (const direction of ['input', 'output'] as const) {
    const format = formatPatch(patch, direction);
    if (format) merged.audio[direction].format = format;
  }
  return { kind: 'ok', config: merged };
}

/** The greeting named by a `Greeting: <text>` line in the instructions, if any. */
export function greetingFromInstructions(instructions: string): string | undefined {
  return GREETING_LINE_PATTERN.exec(instructions)?.[1];
}

function validateAudio(audio: unknown): RealtimeErrorPayload | undefined {
  if (audio === undefined) return undefined;
  if (!isObject(audio)) return realtimeErrors.invalidValue('session.audio', 'session.audio must be an object.');
  for (const direction of ['input', 'output'] as const) {
    const side = audio[direction];
    if (side === undefined) continue;
    if (!isObject(side))
      return realtimeErrors.invalidValue(`session.audio.${direction}`, `session.audio.${direction} must be an object.`);
    const format = side.format;
    if (format !== undefined) {
      const type = isObject(format) ? format.type : undefined;
      if (typeof type !== 'string' || !SUPPORTED_FORMATS.includes(type)) {
        // audio/pcma is valid for the real API; the double has no A-law codec, so it says so plainly.
        return realtimeErrors.invalidValue(
          `session.audio.${direction}.format.type`,
          `Unsupported audio format ${JSON.stringify(type)}; the double supports ${SUPPORTED_FORMATS.join(', ')}.`,
        );
      }
    }
  }
  const input = audio.input;
  const td = isObject(input) ? input.turn_detection : undefined;
  if (td === undefined || td === null) return undefined;
  if (!isObject(td) || typeof td.type !== 'string' || !TURN_DETECTION_TYPES.includes(td.type)) {
    return realtimeErrors.invalidValue(
      'session.audio.input.turn_detection.type',
      'turn_detection.type must be server_vad or semantic_vad.',
    );
  }
  if (td.threshold !== undefined && !(typeof td.threshold === 'number' && td.threshold >= 0 && td.threshold <= 1)) {
    return realtimeErrors.invalidValue(
      'session.audio.input.turn_detection.threshold',
      'threshold must be between 0 and 1.',
    );
  }
  return undefined;
}

function formatPatch(patch: JsonObject, direction: 'input' | 'output'): AudioFormat | undefined {
  const audio = patch.audio;
  const side = isObject(audio) ? audio[direction] : undefined;
  const format = isObject(side) ? side.format : undefined;
  return isObject(format) ? (structuredClone(format) as unknown as AudioFormat) : undefined;
}

function turnDetectionPatch(patch: JsonObject): TurnDetection | null | undefined {
  const audio = patch.audio;
  const input = isObject(audio) ? audio.input : undefined;
  if (!isObject(input) || !('turn_detection' in input)) return undefined;
  return input.turn_detection as TurnDetection | null;
}

/** A new VAD type starts from that type's defaults; the same type merges field by field. */
function mergeTurnDetection(
  current: TurnDetection | null,
  patch: TurnDetection | null | undefined,
): TurnDetection | null {
  if (patch === undefined) return current;
  if (patch === null) return null;
  const base: TurnDetection =
    current && current.type === patch.type
      ? current
      : patch.type === 'server_vad'
        ? { ...SERVER_VAD_DEFAULTS }
        : { type: 'semantic_vad', eagerness: 'auto', create_response: true, interrupt_response: true };
  return { ...base, ...patch };
}

function deepMerge(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    const existing = target[key];
    target[key] = isObject(value) && isObject(existing) ? deepMerge(existing, value) : structuredClone(value);
  }
  return target;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
