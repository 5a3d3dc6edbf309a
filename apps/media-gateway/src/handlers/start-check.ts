/**
 * Is this START allowed to become a call? The signature on the upgrade has no
 * timestamp, so a captured upgrade could be replayed; the one-time call token
 * the webhook stored (and passed as a <Parameter>) is what ties a stream to
 * exactly one call. GETDEL consumes it: a second START for the call fails.
 */
import { timingSafeEqual } from 'node:crypto';
import { errorFields } from '@voice/logging';
import { STREAM_PARAMETERS } from '@voice/protocols';
import type { TwilioStartMessage } from '@voice/protocols';
import { callKeys, readCallMeta } from '@voice/redis';
import type { CallMeta } from '@voice/redis';
import type { MediaSession } from '../session/media-session.js';
import { isCallSid } from '../upgrade.js';

export type StartRefusal =
  | 'bad_call_sid'
  | 'call_sid_mismatch'
  | 'missing_token'
  | 'token_unknown_or_used'
  | 'token_mismatch'
  | 'token_check_failed';

export type StartCheck = { ok: true; meta: CallMeta | undefined } | { ok: false; reason: StartRefusal };

export async function checkStart(session: MediaSession, message: TwilioStartMessage): Promise<StartCheck> {
  const { callSid, customParameters } = message.start;
  if (!isCallSid(callSid)) return { ok: false, reason: 'bad_call_sid' };
  if (session.pathCallSid !== undefined && session.pathCallSid !== callSid)
    return { ok: false, reason: 'call_sid_mismatch' };
  const presented = customParameters[STREAM_PARAMETERS.callToken];
  // Without a token there is nothing to compare: leave the stored one for the real stream.
  if (!presented) return { ok: false, reason: 'missing_token' };

  const { redis } = session.ctx;
  let stored: string | null;
  let meta: CallMeta | undefined;
  try {
    // One round trip for both: the meta only feeds since_webhook_ms.
    [stored, meta] = await Promise.all([redis.getdel(callKeys.token(callSid)), readCallMeta(redis, callSid)]);
  } catch (err) {
    session.log.error('call token check failed', errorFields(err));
    return { ok: false, reason: 'token_check_failed' };
  }
  if (stored === null) return { ok: false, reason: 'token_unknown_or_used' };
  if (!sameSecret(stored, presented)) return { ok: false, reason: 'token_mismatch' };
  return { ok: true, meta };
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
