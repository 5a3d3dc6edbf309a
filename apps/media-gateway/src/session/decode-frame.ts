/**
 * One WebSocket frame to one Twilio message, or the kind of bad input it is.
 * Runs for every media frame (50 per second per call): media frames are
 * checked by hand, field by field, because that is the hot path; everything
 * else goes through the zod schema. Both accept exactly the same media shape
 * (the unit tests hold them to it).
 */
import { twilioInboundMessage } from '@voice/protocols';
import type { TwilioInboundMessage, TwilioMediaMessage } from '@voice/protocols';
import type { InvalidKind } from '../metrics.js';

export type DecodedFrame =
  { ok: true; message: TwilioInboundMessage } | { ok: false; kind: InvalidKind; detail?: string };

const KNOWN_EVENTS = new Set<string>(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);

export function decodeFrame(data: Buffer, isBinary: boolean): DecodedFrame {
  if (isBinary) return { ok: false, kind: 'binary', detail: `${data.length} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    return { ok: false, kind: 'not_json' };
  }
  const event = typeof raw === 'object' && raw !== null ? (raw as { event?: unknown }).event : undefined;
  if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) {
    return { ok: false, kind: 'unknown_event', detail: typeof event === 'string' ? event.slice(0, 40) : typeof event };
  }
  if (event === 'media') {
    const media = asMediaMessage(raw as Record<string, unknown>);
    if (media) return { ok: true, message: media };
  }
  const parsed = twilioInboundMessage.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      kind: 'schema',
      detail: `${event}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    };
  }
  return { ok: true, message: parsed.data };
}

const DIGITS = /^\d+$/;

/** The media shape of the schema, checked without building zod issue objects; undefined: let the schema explain. */
function asMediaMessage(raw: Record<string, unknown>): TwilioMediaMessage | undefined {
  const media = raw.media as Record<string, unknown> | null | undefined;
  if (typeof media !== 'object' || media === null) return undefined;
  const { sequenceNumber, streamSid } = raw;
  const { track, chunk, timestamp, payload } = media;
  if (typeof sequenceNumber !== 'string' || !DIGITS.test(sequenceNumber) || typeof streamSid !== 'string')
    return undefined;
  if (typeof track !== 'string' || typeof payload !== 'string') return undefined;
  if (typeof chunk !== 'string' || !DIGITS.test(chunk) || typeof timestamp !== 'string' || !DIGITS.test(timestamp))
    return undefined;
  return { event: 'media', sequenceNumber, streamSid, media: { track, chunk, timestamp, payload } };
}

const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** Twilio's payloads are standard padded base64; anything else would poison the bridge's decoder. */
export function isBase64(payload: string): boolean {
  return payload.length % 4 === 0 && BASE64_PATTERN.test(payload);
}
