/**
 * Routes each Twilio message to its handler: one small handler per event type.
 * START is the only asynchronous one (its token check); it is tracked so
 * shutdown waits for it.
 */
import { errorFields } from '@voice/logging';
import type { TwilioInboundMessage } from '@voice/protocols';
import { CLOSE } from '../session/close-codes.js';
import type { MediaSession } from '../session/media-session.js';
import { onConnected } from './connected.js';
import { onDtmf } from './dtmf.js';
import { onMark } from './mark.js';
import { onMedia } from './media.js';
import { onStart } from './start.js';
import { onStop } from './stop.js';

export function dispatch(session: MediaSession, message: TwilioInboundMessage): void {
  switch (message.event) {
    case 'media':
      onMedia(session, message);
      return;
    case 'mark':
      onMark(session, message);
      return;
    case 'dtmf':
      onDtmf(session, message);
      return;
    case 'stop':
      onStop(session, message);
      return;
    case 'connected':
      onConnected(session, message);
      return;
    case 'start':
      session.ctx.pending.track(
        onStart(session, message).catch((err: unknown) => {
          session.log.error('stream start failed', errorFields(err));
          session.rejectStart(CLOSE.internalError, 'internal_error');
        }),
      );
      return;
  }
}
