/**
 * One WebSocket frame to one Twilio message, or the kind of bad input it is.
 * Runs for every media frame: one JSON.parse and one schema parse, nothing more.
 */
import { twilioInboundMessage } from '@voice/protocols';
import type { TwilioInboundMessage } from '@voice/protocols';
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

const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** Twilio's payloads are standard padded base64; anything else would poison the bridge's decoder. */
export function isBase64(payload: string): boolean {
  return payload.length % 4 === 0 && BASE64_PATTERN.test(payload);
}
