/**
 * START: the socket becomes a call. After the token check (which also reads
 * the call's owner): the held checkpoints and `stream.started` on the
 * timeline, then the call is tied to a bridge (session/bridge-call.ts): to
 * the warm owner, whose greeting is waiting, or to whichever bridge with room
 * answers the claim. Frames that arrive meanwhile are held, in order.
 */
import { errorFields } from '@voice/logging';
import { STREAM_PARAMETERS } from '@voice/protocols';
import type { TwilioStartMessage } from '@voice/protocols';
import type { CallMeta } from '@voice/redis';
import { ActiveStream } from '../session/active-stream.js';
import { BridgeCall } from '../session/bridge-call.js';
import { CLOSE } from '../session/close-codes.js';
import { markStreamStarted } from '../session/mark-stream-started.js';
import type { MediaSession } from '../session/media-session.js';
import { checkStart } from './start-check.js';
import type { StartRefusal } from './start-check.js';

export async function onStart(session: MediaSession, message: TwilioStartMessage): Promise<void> {
  if (session.phase !== 'awaiting_start') {
    session.invalid.report('duplicate_start');
    return;
  }
  const receivedAt = Date.now();
  session.beginStart();
  session.ctx.metrics.startWait.observe(receivedAt - session.acceptedAt);

  const check = await checkStart(session, message);
  if (check.ok) accept(session, message, receivedAt, check.meta, check.owner);
  else refuse(session, message, check.reason);
}

function accept(
  session: MediaSession,
  message: TwilioStartMessage,
  receivedAt: number,
  meta: CallMeta | undefined,
  owner: string | null,
): void {
  const { ctx } = session;
  const { callSid, streamSid } = message.start;
  session.bindCall(callSid, streamSid);
  const log = session.log;
  const stream = new ActiveStream(callSid, streamSid, receivedAt, {
    send: (m) => session.send(m),
    metrics: ctx.metrics,
    clips: ctx.clips,
    checkpoints: session.checkpoints,
    log,
    maxHeldCallerRecords: ctx.config.maxHeldCallerRecords,
    holdGapMs: ctx.config.holdAudioGapMs,
  });
  session.checkpoints.record('stream.started', {
    stream_sid: streamSid,
    since_accept_ms: receivedAt - session.acceptedAt,
    since_webhook_ms: meta && meta.receivedAt > 0 ? receivedAt - meta.receivedAt : undefined,
  });
  const bridgeCall = new BridgeCall(session, stream, {
    streamSid,
    acceptedAt: session.acceptedAt,
    params: withoutToken(message.start.customParameters),
    meta,
  });
  // The calls row is bookkeeping: audio never waits for Postgres (retried: see mark-stream-started.ts).
  ctx.pending.track(
    markStreamStarted(ctx.calls, callSid, { at: new Date(receivedAt), gatewayInstance: ctx.config.instanceId }, log),
  );
  ctx.metrics.streamsStarted.inc();
  session.acceptStream(stream, bridgeCall);
  ctx.pending.track(
    bridgeCall
      .connect(owner)
      .catch((err: unknown) => log.error('attaching the call to a bridge failed', errorFields(err))),
  );
}

function refuse(session: MediaSession, message: TwilioStartMessage, reason: StartRefusal): void {
  const { callSid, streamSid } = message.start;
  session.ctx.metrics.streamsRejected.labels({ reason }).inc();
  if (reason === 'bad_call_sid') {
    // Not a CallSid: it must not become a Redis key.
    session.log.warn('stream.rejected', { event: 'stream.rejected', reason, streamSid });
  } else {
    // Only the refusal is written (on a mismatch, to the path's call): a replayed upgrade must not
    // add its checkpoints to a real call.
    session.checkpoints.discard();
    session.bindCall(session.pathCallSid ?? callSid, streamSid);
    session.checkpoints.record(
      'stream.rejected',
      { reason, stream_sid: streamSid, start_call_sid: callSid, remote: session.remote },
      'warn',
    );
  }
  const code = reason === 'token_check_failed' ? CLOSE.internalError : CLOSE.policy;
  session.rejectStart(code, reason);
}

/** The token is spent; it has no business in what the bridge (and on-call) reads. */
function withoutToken(params: Record<string, string>): Record<string, string> {
  const rest = { ...params };
  delete rest[STREAM_PARAMETERS.callToken];
  return rest;
}
