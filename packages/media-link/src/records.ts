/**
 * What travels on a media link, one record per line.
 *
 * The hot records (caller audio, agent audio, echoed marks) are plain
 * space-separated lines: the base64 audio Twilio sent is forwarded as is and
 * reaches `input_audio_buffer.append` untouched, and a model delta reaches
 * Twilio untouched. Nothing on the hot path decodes audio or builds JSON.
 * Everything else (a few records per call) is `c <json>`, checked on read.
 *
 * A call on a link is a *channel*: a small number the gateway picks when it
 * attaches the call, so audio records do not carry a 34-character CallSid.
 */
import { z } from 'zod';
import { isClipName, type ClipName } from './clips.js';

/** Why the gateway's stream ended, with what it counted (the bridge finalizes the call from it). */
export interface StopRecord {
  t: 'stop';
  call: string;
  reason: string;
  /** Caller frames forwarded / media messages sent to Twilio, and the audio bytes in them. */
  rx: number;
  tx: number;
  txBytes: number;
  /** Epoch ms the first model audio went to the caller (clips do not count). */
  firstAudioAt?: number;
  endedAt: number;
  invalidMessages: number;
}

export interface AttachRecord {
  t: 'attach';
  call: string;
  ch: number;
  streamSid: string;
  gateway: string;
  /** Epoch ms START was read / the socket was accepted. */
  startedAt: number;
  acceptedAt: number;
  params: Record<string, string>;
  /** Set when the call moves here from another bridge mid-call (that bridge's link died, or it is shutting down). */
  handover?: Handover;
}

/** A call moving between bridges: the bridge it leaves, when the move began (epoch ms), and whether it was planned. */
export interface Handover {
  from: string;
  at: number;
  /** true: the old bridge asked (`rehome`, a shutdown); false: its link died. */
  planned: boolean;
}

/**
 * The gateway is going away (SIGTERM) and closes the call's Twilio socket so the call reconnects
 * through <Connect action> to another gateway: not the end of the call. The bridge keeps the model
 * session for GATEWAY_REATTACH_GRACE_MS, as when a link dies.
 */
export interface DetachRecord {
  t: 'detach';
  call: string;
  ch: number;
  reason: string;
}

/** Gateway -> bridge. */
export type GatewayRecord =
  | AttachRecord
  | DetachRecord
  | { t: 'media'; ch: number; payload: string }
  | { t: 'mark'; ch: number; name: string }
  | { t: 'dtmf'; ch: number; digit: string }
  | StopRecord;

/** Bridge -> gateway. */
export type BridgeRecord =
  /** Answer to a claim the gateway published: attach the call to `owner` (this bridge or the one that holds it). */
  | { t: 'owner'; call: string; owner: string }
  | { t: 'attached'; call: string; ch: number }
  | { t: 'refused'; call: string; ch: number; reason: string }
  | {
      t: 'media';
      ch: number;
      payload: string;
      /** Epoch ms (fractional) the bridge received the audio from the model. */
      at: number;
      /** The greeting's audio, so the gateway can time first_greeting_audio. */
      greeting: boolean;
      /** Marks to send Twilio right before / after this audio (playback tracking for barge-in). */
      markBefore?: string;
      markAfter?: string;
    }
  | { t: 'mark'; ch: number; name: string }
  | { t: 'clear'; ch: number }
  | { t: 'play'; ch: number; clip: ClipName }
  /**
   * The caller is waiting (setup, a model reconnecting): `on` starts the hold clip, repeated by the
   * gateway as each play ends (plus HOLD_AUDIO_GAP_MS) until `on: false`, model audio, a hangup or the
   * end of the call; `on: false` also cuts a hold clip still playing.
   */
  | { t: 'hold'; ch: number; on: boolean }
  | { t: 'hangup'; ch: number; reason: string; clip?: ClipName }
  /**
   * This bridge is shutting down: move the call to another bridge with room (a claim naming this one
   * as the previous owner), then send this bridge a `stop` (reason `handed_over`). With no bridge to
   * take it, the call stays here. `keys`: a keypad entry still being typed here, given up so the
   * move does not split it: the gateway sends these keys first to the bridge the call ends up on
   * (back here if the move fails), followed by any the caller presses during the move. Sent again
   * during the move, its `keys` were on their way here when the gateway began it: they follow the
   * keys given up before, ahead of the ones the gateway held (after the switch, on the channel the
   * call left, they go to the bridge it is on).
   */
  | { t: 'rehome'; ch: number; keys?: string };

/** A per-call record before the channel it goes on is known (the call's holder adds `ch`). */
export type Unaddressed<T> = T extends { ch: number } ? Omit<T, 'ch'> : never;
/** What a bridge sends toward one call's caller. */
export type ToCallerRecord = Unaddressed<Extract<BridgeRecord, { ch: number }>>;
/** What a gateway sends toward one call's bridge. */
export type FromCallerRecord = Unaddressed<Extract<GatewayRecord, { ch: number }>>;

export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}

/** Keypad keys as Twilio reports them; an entry is at most 32 (the bridge's limit), with room. */
const DTMF_KEYS = /^[0-9*#A-D]{1,64}$/;
/** Marks and mark-like tokens go in space-separated lines: they must hold no whitespace. */
const TOKEN = /^[^\s]{1,200}$/;
const NONE = '-';

// ---- gateway -> bridge ----

export function encodeGatewayRecord(r: GatewayRecord): string {
  switch (r.t) {
    case 'media':
      return `m ${r.ch} ${r.payload}\n`;
    case 'mark':
      return `k ${r.ch} ${token(r.name)}\n`;
    default:
      return `c ${JSON.stringify(r)}\n`;
  }
}

export function decodeGatewayRecord(line: string): GatewayRecord {
  switch (line.charCodeAt(0)) {
    case 0x6d /* m */: {
      const [ch, payload] = fields(line, 2);
      return { t: 'media', ch: channel(ch), payload: payload! };
    }
    case 0x6b /* k */: {
      const [ch, name] = fields(line, 2);
      return { t: 'mark', ch: channel(ch), name: name! };
    }
    case 0x63 /* c */:
      return parseControl(gatewayControl, line) as GatewayRecord;
    default:
      throw new InvalidRecordError(`unknown record type "${line.slice(0, 1)}"`);
  }
}

const ch = z.number().int().nonnegative();
const call = z.string().regex(/^CA[0-9a-f]{32}$/i);
const gatewayControl = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('attach'),
    call,
    ch,
    streamSid: z.string().min(1).max(64),
    gateway: z.string().min(1).max(200),
    startedAt: z.number(),
    acceptedAt: z.number(),
    params: z.record(z.string(), z.string()),
    handover: z.object({ from: z.string().min(1).max(200), at: z.number(), planned: z.boolean() }).optional(),
  }),
  z.object({ t: z.literal('dtmf'), ch, digit: z.string().min(1).max(1) }),
  z.object({ t: z.literal('detach'), call, ch, reason: z.string().min(1).max(200) }),
  z.object({
    t: z.literal('stop'),
    call,
    reason: z.string().min(1).max(200),
    rx: z.number().int().nonnegative(),
    tx: z.number().int().nonnegative(),
    txBytes: z.number().int().nonnegative(),
    firstAudioAt: z.number().optional(),
    endedAt: z.number(),
    invalidMessages: z.number().int().nonnegative(),
  }),
]);

// ---- bridge -> gateway ----

export function encodeBridgeRecord(r: BridgeRecord): string {
  switch (r.t) {
    case 'media':
      return `a ${r.ch} ${r.at.toFixed(3)} ${r.greeting ? 1 : 0} ${r.markBefore ? token(r.markBefore) : NONE} ${r.markAfter ? token(r.markAfter) : NONE} ${r.payload}\n`;
    case 'mark':
      return `k ${r.ch} ${token(r.name)}\n`;
    default:
      return `c ${JSON.stringify(r)}\n`;
  }
}

export function decodeBridgeRecord(line: string): BridgeRecord {
  switch (line.charCodeAt(0)) {
    case 0x61 /* a */: {
      const [chText, at, greeting, before, after, payload] = fields(line, 6);
      const record: BridgeRecord = {
        t: 'media',
        ch: channel(chText),
        payload: payload!,
        at: Number(at),
        greeting: greeting === '1',
      };
      if (before !== NONE) record.markBefore = before;
      if (after !== NONE) record.markAfter = after;
      return record;
    }
    case 0x6b /* k */: {
      const [chText, name] = fields(line, 2);
      return { t: 'mark', ch: channel(chText), name: name! };
    }
    case 0x63 /* c */:
      return parseControl(bridgeControl, line) as BridgeRecord;
    default:
      throw new InvalidRecordError(`unknown record type "${line.slice(0, 1)}"`);
  }
}

const clip = z.string().refine(isClipName, 'unknown clip');
const bridgeControl = z.discriminatedUnion('t', [
  z.object({ t: z.literal('owner'), call, owner: z.string().min(1).max(200) }),
  z.object({ t: z.literal('attached'), call, ch }),
  z.object({ t: z.literal('refused'), call, ch, reason: z.string().max(200) }),
  z.object({ t: z.literal('clear'), ch }),
  z.object({ t: z.literal('play'), ch, clip }),
  z.object({ t: z.literal('hold'), ch, on: z.boolean() }),
  z.object({ t: z.literal('hangup'), ch, reason: z.string().min(1).max(200), clip: clip.optional() }),
  z.object({ t: z.literal('rehome'), ch, keys: z.string().regex(DTMF_KEYS).optional() }),
]);

// ---- shared ----

/** The `n` space-separated fields after the record type; the last one takes the rest of the line. */
function fields(line: string, n: number): string[] {
  const out: string[] = [];
  let from = 2;
  for (let i = 0; i < n - 1; i++) {
    const space = line.indexOf(' ', from);
    if (space < 0) throw new InvalidRecordError(`record "${line.slice(0, 1)}" has ${i + 1} of ${n} fields`);
    out.push(line.slice(from, space));
    from = space + 1;
  }
  const last = line.slice(from);
  if (last.length === 0) throw new InvalidRecordError(`record "${line.slice(0, 1)}" has an empty last field`);
  out.push(last);
  return out;
}

function channel(text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidRecordError(`bad channel "${text ?? ''}"`);
  return n;
}

function token(value: string): string {
  if (!TOKEN.test(value)) throw new InvalidRecordError(`"${value.slice(0, 40)}" cannot travel in a line record`);
  return value;
}

function parseControl(schema: z.ZodType, line: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(line.slice(2));
  } catch {
    throw new InvalidRecordError('control record is not JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new InvalidRecordError(`control record: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

/** Is this audio or something that may be dropped under backpressure? Control must never be. */
export function isDroppable(line: string): boolean {
  const c = line.charCodeAt(0);
  return c === 0x6d || c === 0x61;
}
