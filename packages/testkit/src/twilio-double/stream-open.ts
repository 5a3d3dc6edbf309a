/**
 * `<Connect><Stream>` as Twilio opens it: the URL it accepts (wss:// only, query string
 * dropped) and the media stream session built from the call's options.
 */
import { CALLER_DEFAULTS, TWILIO_ERROR } from './constants.js';
import { FrameClock } from './frame-clock.js';
import { MediaStreamSession } from './media-stream.js';
import type { StreamNoun } from './twiml.js';
import type { PlaceCallOptions } from './types.js';

type Warn = (code: number | undefined, message: string) => void;

/** Twilio connects only to wss:// and drops any query string. */
export function publicStreamUrl(raw: string, warn: Warn): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    warn(TWILIO_ERROR.streamHandshake, `<Stream url="${raw}"> is not a URL`);
    return undefined;
  }
  if (url.protocol !== 'wss:') {
    warn(TWILIO_ERROR.streamHandshake, `<Stream url="${raw}">: Twilio connects only to wss:// URLs`);
    return undefined;
  }
  if (url.search === '') return raw;
  warn(undefined, `<Stream url="${raw}">: query string dropped (Twilio strips it; use <Parameter>)`);
  return raw.slice(0, raw.indexOf('?'));
}

export interface StreamToOpen {
  ids: { accountSid: string; callSid: string; streamSid: string };
  publicUrl: string;
  stream: StreamNoun;
  /** The caller's audio for this stream. */
  audio: Buffer;
  warn: Warn;
  /** Twilio sent START. */
  onStarted(): void;
}

/** A media stream session for one `<Connect><Stream>`, behaving as the call's options say. */
export function openMediaStream(options: PlaceCallOptions, open: StreamToOpen): MediaStreamSession {
  const { publicUrl, stream } = open;
  return new MediaStreamSession({
    ids: open.ids,
    publicUrl,
    localUrl: (options.resolveStreamUrl ?? ((url: string) => url))(publicUrl),
    authToken: options.authToken,
    offerSubprotocol: options.offerSubprotocol ?? CALLER_DEFAULTS.offerSubprotocol,
    customParameters: { ...stream.parameters },
    behaviour: {
      ghost: options.ghost ?? false,
      noStart: options.noStart ?? false,
      startDelayMs: options.startDelayMs ?? CALLER_DEFAULTS.startDelayMs,
      startWhen: options.startWhen,
      hangupAfterMs: options.hangupAfterMs,
      hangupWhenScriptEnds: options.hangupWhenScriptEnds ?? false,
      dtmf: options.dtmf ?? [],
    },
    script: open.audio,
    clock: options.clock ?? new FrameClock(),
    onFrame: options.onFrame,
    onMedia: options.onMedia,
    recordSentPayloads: options.recordSentPayloads ?? true,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? CALLER_DEFAULTS.handshakeTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? CALLER_DEFAULTS.closeTimeoutMs,
    warn: open.warn,
    onStarted: () => open.onStarted(),
  });
}
