/**
 * Resuming a call another bridge was serving (its media link died, or it handed
 * the call over while shutting down): the conversation record that bridge wrote
 * to Redis is read into this session's record, replayed into the new model
 * session (session-setup.ts), and the new session goes on without a greeting.
 *
 * What the new session does first follows from the record's last item:
 * - none: nothing was said yet (the old bridge died during the greeting): greet;
 * - the caller's turn, or a tool call or result: the caller is owed a reply
 *   (one cut by the death was never recorded, since an agent turn is recorded
 *   when its transcript completes): the model is asked again (response.create);
 * - the agent's turn: the agent had answered; the new session listens.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Handover } from '@voice/media-link';
import { readConversation, type RedisClient } from '@voice/redis';
import type { CallTimeline } from './call-timeline.js';
import type { ConversationRecord } from './conversation-record.js';

/** What the resumed session does first (call.resumed `reply`). */
export type ResumeReply = 'greeted' | 'reasked' | 'none';

/** Reads the record written so far into `conversation`; a failed read leaves it empty (the call is then greeted). */
export async function loadConversation(
  redis: RedisClient,
  callSid: string,
  conversation: ConversationRecord,
  logger: Logger,
): Promise<void> {
  try {
    const { entries, invalid } = await readConversation(redis, callSid);
    if (invalid.length > 0) logger.warn('skipped invalid conversation entries', { invalid: invalid.length });
    conversation.adopt(entries);
  } catch (err) {
    logger.error('conversation record read failed; the resumed session starts without it', errorFields(err));
  }
}

export function resumeReply(conversation: ConversationRecord): ResumeReply {
  const last = conversation.lastItem();
  if (!last) return 'greeted';
  return last.kind === 'agent' ? 'none' : 'reasked';
}

export function recordResumed(
  tl: CallTimeline,
  handover: Handover,
  to: string,
  items: number,
  reply: ResumeReply,
): Promise<void> {
  return tl.record(
    'call.resumed',
    { from: handover.from, to, items, gap_ms: Date.now() - handover.at, planned: handover.planned, reply },
    handover.planned ? 'info' : 'warn',
  );
}
