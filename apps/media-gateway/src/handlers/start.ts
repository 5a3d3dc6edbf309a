/**
 * START: the socket becomes a call. After the token check, in this order (one
 * auto-pipelined connection keeps it): the held checkpoints and
 * `stream.started` on the timeline, the inbound `start` entry, the claim that
 * wakes a bridge, then tailing `call:{CA}:out` from its beginning, because a
 * bridge that warmed up early may already have greeting audio waiting there.
 */
import { errorFields } from '@voice/logging';
import { STREAM_PARAMETERS } from '@voice/protocols';
import type { TwilioStartMessage } from '@voice/protocols';
import { CLAIM_STREAM_MAXLEN, encodeClaim } from '@voice/redis';
import type { CallMeta } from '@voice/redis';
import { ActiveStream } from '../session/active-stream.js';
import { CLOSE } from '../session/close-codes.js';
import { InboundWriter } from '../session/inbound-writer.js';
import type { MediaSession } from '../session/media-session.js';
import { checkStart } from './start-check.js';
import type { StartRefusal } from './start-check.js';
import { onOutboundEntries } from './outbound.js';
import { playClip } from '../session/play-clip.js';

export async function onStart(session: MediaSession, message: TwilioStartMessage): Promise<void> {
  if (session.phase !== 'awaiting_start') {
    session.invalid.report('duplicate_start');
    return;
  }
  const receivedAt = Date.now();
  session.beginStart();
  session.ctx.metrics.startWait.observe(receivedAt - session.acceptedAt);

  const check = await checkStart(session, message);
  if (check.ok) accept(session, message, receivedAt, check.meta);
  else refuse(session, message, check.reason);
}

function accept(
  session: MediaSession,
  message: TwilioStartMessage,
  receivedAt: number,
  meta: CallMeta | undefined,
): void {
  const { ctx } = session;
  const { callSid, streamSid } = message.start;
  session.bindCall(callSid, streamSid);
  const log = session.log;
  const inbound = new InboundWriter(ctx.redis, callSid, log, ctx.config.writeErrorLogEvery);
  const stream = new ActiveStream(callSid, streamSid, receivedAt, inbound, log);

  session.checkpoints.record('stream.started', {
    stream_sid: streamSid,
    since_accept_ms: receivedAt - session.acceptedAt,
    since_webhook_ms: meta && meta.receivedAt > 0 ? receivedAt - meta.receivedAt : undefined,
  });
  const startEntry = {
    kind: 'start' as const,
    streamSid,
    gateway: ctx.config.instanceId,
    startedAt: receivedAt,
    acceptedAt: session.acceptedAt,
    customParameters: withoutToken(message.start.customParameters),
  };
  inbound.start(startEntry);
  publishClaim(session, callSid);
  ctx.ownerWatch.watch(callSid, {
    startedAt: receivedAt,
    // The dead owner's tail trimmed the first start entry: the next owner needs a fresh one.
    reannounce: (previousOwner) => {
      session.checkpoints.record('call.orphaned', { previous_owner: previousOwner ?? 'none' }, 'warn');
      // The caller hears "one moment please" while another bridge takes over.
      playClip(session, stream, 'hold');
      inbound.append(startEntry);
      publishClaim(session, callSid);
    },
  });
  // The calls row is bookkeeping: audio never waits for Postgres.
  ctx.pending.track(
    ctx.calls
      .markStreamStarted(callSid, { at: new Date(receivedAt), gatewayInstance: ctx.config.instanceId })
      .catch((err: unknown) =>
        log.error('calls row update failed', { step: 'markStreamStarted', ...errorFields(err) }),
      ),
  );
  ctx.tail.add(stream.outKey, '0', (entries) => onOutboundEntries(session, stream, entries));
  ctx.metrics.streamsStarted.inc();
  session.acceptStream(stream);
}

/** Wakes a bridge: the call needs an owner (or a new one). */
function publishClaim(session: MediaSession, callSid: string): void {
  const { ctx } = session;
  ctx.redis
    .xadd(ctx.keys.callClaims, 'MAXLEN', '~', String(CLAIM_STREAM_MAXLEN), '*', ...encodeClaim({ callSid, reason: 'started', at: Date.now() }))
    .catch((err: unknown) => session.log.error('call claim publish failed', errorFields(err)));
}

function refuse(session: MediaSession, message: TwilioStartMessage, reason: StartRefusal): void {
  const { callSid, streamSid } = message.start;
  session.ctx.metrics.streamsRejected.labels({ reason }).inc();
  if (reason === 'bad_call_sid') {
    // Not a CallSid: it must not become a Redis key.
    session.log.warn('stream.rejected', { event: 'stream.rejected', reason, streamSid });
  } else {
    // On a mismatch the socket is already bound to its path's call, and the note lands there.
    // Otherwise only the refusal is written: a replayed upgrade must not add its checkpoints to a real call.
    if (session.checkpoints.boundCallSid === undefined) session.checkpoints.discard();
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

/** The token is spent; it has no business in the stream the bridge (and on-call) reads. */
function withoutToken(params: Record<string, string>): Record<string, string> {
  const rest = { ...params };
  delete rest[STREAM_PARAMETERS.callToken];
  return rest;
}
