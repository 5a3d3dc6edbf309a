/** The caller pressed a key: the bridge gets it in order with the audio; the timeline notes it. */
import type { TwilioDtmfMessage } from '@voice/protocols';
import type { MediaSession } from '../session/media-session.js';

/**
 * One DTMF key (0-9, *, #, and the rare A-D). The schema only says "a string"; anything else is
 * not a key press, and every press is written to the timeline, so it must not carry kilobytes.
 */
const DTMF_DIGIT = /^[0-9*#A-D]$/;

export function onDtmf(session: MediaSession, message: TwilioDtmfMessage): void {
  const stream = session.requireStream(message.streamSid);
  if (!stream) return;
  const digit = message.dtmf.digit;
  if (!DTMF_DIGIT.test(digit)) {
    session.invalid.report('schema', `dtmf: digit is not one key (${digit.length} chars)`);
    return;
  }
  stream.forwardDtmf(digit);
  session.checkpoints.record('caller.dtmf', { digit });
}
