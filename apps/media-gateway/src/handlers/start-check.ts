/**
 * Is this START allowed to become a call? The signature on the upgrade has no
 * timestamp, so a captured upgrade could be replayed; the one-time call token
 * the webhook stored (and passed as a <Parameter>) is what ties a stream to
 * exactly one call. It is consumed only when it matches (compare-and-delete in
 * one script): a second START for the call fails, and a forged START with a
 * wrong token cannot burn the real one. The check is bounded
 * (START_CHECK_TIMEOUT_MS): a hanging Redis refuses the stream instead of
 * leaving the caller in silence.
 */
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

/** 1: matched and consumed; 0: present but different (kept); -1: none stored (unknown or already used). */
const CONSUME_TOKEN_SCRIPT = `
local stored = redis.call('GET', KEYS[1])
if not stored then return -1 end
if stored == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

export type StartCheck =
  { ok: true; meta: CallMeta | undefined; owner: string | null } | { ok: false; reason: StartRefusal };

export async function checkStart(session: MediaSession, message: TwilioStartMessage): Promise<StartCheck> {
  const { callSid, customParameters } = message.start;
  if (!isCallSid(callSid)) return { ok: false, reason: 'bad_call_sid' };
  if (session.pathCallSid !== undefined && session.pathCallSid !== callSid)
    return { ok: false, reason: 'call_sid_mismatch' };
  const presented = customParameters[STREAM_PARAMETERS.callToken];
  // Without a token there is nothing to compare: leave the stored one for the real stream.
  if (!presented) return { ok: false, reason: 'missing_token' };

  const { redis } = session.ctx;
  let outcome: number;
  let meta: CallMeta | undefined;
  let owner: string | null;
  const timeoutMs = session.ctx.config.startCheckTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    // Together, one round trip: the meta feeds since_webhook_ms and the call record; the owner
    // (a bridge holding a warm session) is who the call is attached to.
    const check = Promise.all([
      redis.eval(CONSUME_TOKEN_SCRIPT, 1, callKeys.token(callSid), presented) as Promise<number>,
      readCallMeta(redis, callSid),
      redis.get(callKeys.owner(callSid)),
    ]);
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    });
    check.catch(() => undefined);
    [outcome, meta, owner] = await Promise.race([check, late]);
  } catch (err) {
    session.log.error('call token check failed', { timeout_ms: timeoutMs, ...errorFields(err) });
    return { ok: false, reason: 'token_check_failed' };
  } finally {
    clearTimeout(timer);
  }
  if (outcome === -1) return { ok: false, reason: 'token_unknown_or_used' };
  if (outcome === 0) return { ok: false, reason: 'token_mismatch' };
  return { ok: true, meta, owner };
}
