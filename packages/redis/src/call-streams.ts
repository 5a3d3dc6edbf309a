/**
 * The two per-call audio streams between gateway and bridge, and their entry
 * schemas. One stream per direction keeps media, marks and control messages in
 * the order they happened (a clear must not overtake the audio before it).
 *
 * Every entry is decoded on read; a malformed one raises InvalidStreamEntryError,
 * which readers log and skip.
 */
import {
  InvalidStreamEntryError,
  fieldsToRecord,
  optionalNumber,
  recordToFields,
  requireField,
  requireNumber,
} from './stream-entry.js';

/** Gateway -> bridge, on `call:{CA}:in`. */
export type InboundEntry =
  | {
      kind: 'start';
      streamSid: string;
      gateway: string;
      /** Epoch ms the gateway received START. */
      startedAt: number;
      /** Epoch ms the socket was accepted. */
      acceptedAt: number;
      customParameters: Record<string, string>;
    }
  | {
      kind: 'media';
      payload: string;
      /** Twilio's media chunk counter (1-based). */
      chunk: number;
      /** Epoch ms (fractional) the gateway read the frame off the socket: latency stamps. */
      at: number;
    }
  | { kind: 'mark'; name: string }
  | { kind: 'dtmf'; digit: string }
  | {
      kind: 'stop';
      reason: string;
      /** Frames received from / media messages sent to Twilio, counted by the gateway. */
      rx: number;
      tx: number;
      txBytes: number;
      /** Epoch ms of the first model audio sent to the caller, if any (clips do not count). */
      firstAudioAt?: number;
      endedAt: number;
      invalidMessages: number;
    };

/** Bridge -> gateway, on `call:{CA}:out`. */
export type OutboundEntry =
  | {
      kind: 'media';
      payload: string;
      /** Epoch ms (fractional) the bridge received the audio from the model: latency stamps. */
      at: number;
      /** The first media of the greeting is flagged so the gateway can time first_greeting_audio. */
      greeting?: boolean;
      /**
       * Marks to send Twilio right before / after this audio. Carried in the
       * media entry (not as entries of their own) so one model delta is one
       * XADD, not three.
       */
      markBefore?: string;
      markAfter?: string;
    }
  | { kind: 'mark'; name: string }
  | { kind: 'clear' }
  | {
      /** Play a pre-rendered clip held by the gateway (e.g. "one moment please" while the model connects). */
      kind: 'play';
      clip: ClipName;
    }
  | {
      kind: 'hangup';
      /** Why the bridge wants the stream closed (the TwiML after </Connect> then runs). */
      reason: string;
      /** A clip to play to the caller before the stream closes. */
      clip?: ClipName;
    };

/** Pre-rendered audio the gateway can play without the model: the caller is never left in silence. */
export const CLIP_NAMES = ['hold', 'fallback'] as const;
export type ClipName = (typeof CLIP_NAMES)[number];

export function isClipName(value: string | undefined): value is ClipName {
  return (CLIP_NAMES as readonly string[]).includes(value ?? '');
}

export function encodeInbound(entry: InboundEntry): string[] {
  switch (entry.kind) {
    case 'start':
      return recordToFields({
        kind: entry.kind,
        streamSid: entry.streamSid,
        gateway: entry.gateway,
        startedAt: entry.startedAt,
        acceptedAt: entry.acceptedAt,
        params: JSON.stringify(entry.customParameters),
      });
    case 'media':
      // Positional-ish short form: this is the per-frame hot path (50 entries/s per call).
      return ['kind', 'media', 'payload', entry.payload, 'chunk', String(entry.chunk), 'at', entry.at.toFixed(3)];
    case 'mark':
      return ['kind', 'mark', 'name', entry.name];
    case 'dtmf':
      return ['kind', 'dtmf', 'digit', entry.digit];
    case 'stop':
      return recordToFields({ ...entry });
  }
}

export function decodeInbound(id: string, fields: string[]): InboundEntry {
  // Fast path for media: avoid building a record per frame.
  if (fields[1] === 'media' && fields[2] === 'payload' && fields[4] === 'chunk' && fields[6] === 'at') {
    return { kind: 'media', payload: fields[3]!, chunk: Number(fields[5]), at: Number(fields[7]) };
  }
  const r = fieldsToRecord(fields);
  switch (r.kind) {
    case 'start': {
      let customParameters: Record<string, string>;
      try {
        customParameters = JSON.parse(requireField(id, r, 'params')) as Record<string, string>;
      } catch {
        throw new InvalidStreamEntryError(id, 'params is not JSON');
      }
      return {
        kind: 'start',
        streamSid: requireField(id, r, 'streamSid'),
        gateway: requireField(id, r, 'gateway'),
        startedAt: requireNumber(id, r, 'startedAt'),
        acceptedAt: requireNumber(id, r, 'acceptedAt'),
        customParameters,
      };
    }
    case 'media':
      return {
        kind: 'media',
        payload: requireField(id, r, 'payload'),
        chunk: requireNumber(id, r, 'chunk'),
        at: requireNumber(id, r, 'at'),
      };
    case 'mark':
      return { kind: 'mark', name: requireField(id, r, 'name') };
    case 'dtmf':
      return { kind: 'dtmf', digit: requireField(id, r, 'digit') };
    case 'stop':
      return {
        kind: 'stop',
        reason: requireField(id, r, 'reason'),
        rx: requireNumber(id, r, 'rx'),
        tx: requireNumber(id, r, 'tx'),
        txBytes: optionalNumber(r, 'txBytes') ?? 0,
        firstAudioAt: optionalNumber(r, 'firstAudioAt'),
        endedAt: requireNumber(id, r, 'endedAt'),
        invalidMessages: optionalNumber(r, 'invalidMessages') ?? 0,
      };
    default:
      throw new InvalidStreamEntryError(id, `unknown inbound kind "${r.kind ?? ''}"`);
  }
}

export function encodeOutbound(entry: OutboundEntry): string[] {
  switch (entry.kind) {
    case 'media': {
      const fields = ['kind', 'media', 'payload', entry.payload, 'at', entry.at.toFixed(3)];
      if (entry.greeting) fields.push('greeting', '1');
      if (entry.markBefore) fields.push('markBefore', entry.markBefore);
      if (entry.markAfter) fields.push('markAfter', entry.markAfter);
      return fields;
    }
    case 'mark':
      return ['kind', 'mark', 'name', entry.name];
    case 'clear':
      return ['kind', 'clear'];
    case 'play':
      return ['kind', 'play', 'clip', entry.clip];
    case 'hangup':
      return entry.clip ? ['kind', 'hangup', 'reason', entry.reason, 'clip', entry.clip] : ['kind', 'hangup', 'reason', entry.reason];
  }
}

export function decodeOutbound(id: string, fields: string[]): OutboundEntry {
  const r = fieldsToRecord(fields);
  switch (r.kind) {
    case 'media':
      return {
        kind: 'media',
        payload: requireField(id, r, 'payload'),
        at: requireNumber(id, r, 'at'),
        ...(r.greeting === '1' ? { greeting: true } : {}),
        ...(r.markBefore ? { markBefore: r.markBefore } : {}),
        ...(r.markAfter ? { markAfter: r.markAfter } : {}),
      };
    case 'mark':
      return { kind: 'mark', name: requireField(id, r, 'name') };
    case 'clear':
      return { kind: 'clear' };
    case 'play': {
      const clip = requireField(id, r, 'clip');
      if (!isClipName(clip)) throw new InvalidStreamEntryError(id, `unknown clip "${clip}"`);
      return { kind: 'play', clip };
    }
    case 'hangup': {
      const clip = r.clip;
      if (clip !== undefined && !isClipName(clip)) throw new InvalidStreamEntryError(id, `unknown clip "${clip}"`);
      return { kind: 'hangup', reason: requireField(id, r, 'reason'), ...(clip ? { clip } : {}) };
    }
    default:
      throw new InvalidStreamEntryError(id, `unknown outbound kind "${r.kind ?? ''}"`);
  }
}

/** Bounds for the per-call streams: readers trim what they consumed; MAXLEN caps a stalled reader. */
export const CALL_STREAM_DEFAULTS = {
  /** ~30 s of caller frames: a bridge connecting slowly still gets every frame from the start. */
  inboundMaxLen: 1500,
  outboundMaxLen: 1500,
  /** Safety net: keys of a call whose owner crashed expire on their own. */
  ttlSeconds: 2 * 3600,
} as const;

/** High-resolution wall clock (epoch ms with µs fraction), comparable across processes on one host. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Decodes a batch of inbound entries; malformed ones go to `onInvalid` and are skipped, never thrown. */
export function decodeInboundEntries(
  entries: Array<[id: string, fields: string[]]>,
  onInvalid: (err: InvalidStreamEntryError) => void,
): InboundEntry[] {
  const out: InboundEntry[] = [];
  for (const [id, fields] of entries) {
    try {
      out.push(decodeInbound(id, fields));
    } catch (err) {
      onInvalid(err instanceof InvalidStreamEntryError ? err : new InvalidStreamEntryError(id, String(err)));
    }
  }
  return out;
}
