/**
 * The summary a placed call resolves `done` with: its ids, how it ended, what was sent and
 * heard across every stream, and what Twilio itself did (spoken verbs, API updates, dials).
 * Optional fields are present only when the call got that far.
 */
import type { TwilioCallerDouble } from './caller.js';
import type { StreamEnd } from './media-stream.js';
import type { CallEndReason, CallSummary } from './types.js';

/** What only the call itself knows (not on its public face). */
export interface CallPrivateRecord {
  streamUrl: string | undefined;
  customParameters: Record<string, string> | undefined;
  /** How the last stream ended. */
  streamEnd: StreamEnd | undefined;
  /** ms of audio played to the caller, every stream summed. */
  heardMs: number;
  durationMs: number;
}

export function summarizeCall(call: TwilioCallerDouble, own: CallPrivateRecord, endedBy: CallEndReason): CallSummary {
  const received = call.received;
  const end = own.streamEnd;
  const optional = {
    ...(call.webhookStatus === undefined ? {} : { webhookStatus: call.webhookStatus }),
    ...(own.streamUrl === undefined ? {} : { streamUrl: own.streamUrl }),
    ...(own.customParameters === undefined ? {} : { customParameters: own.customParameters }),
    ...(end ? { streamEndedBy: end.endedBy, closeCode: end.closeCode, closeReason: end.closeReason } : {}),
    ...(call.sessions.length > 1 ? { streams: call.sessions.length } : {}),
    ...(call.session?.subprotocol === undefined ? {} : { subprotocol: call.session.subprotocol }),
    ...(call.startSentCallMs === undefined ? {} : { startSentCallMs: Math.round(call.startSentCallMs * 10) / 10 }),
    ...(call.firstAudioAtMs === undefined ? {} : { firstAudioAtMs: call.firstAudioAtMs }),
    ...(call.firstMediaAtMs === undefined ? {} : { firstMediaAtMs: call.firstMediaAtMs }),
  };
  return {
    callSid: call.callSid,
    streamSid: call.streamSid,
    accountSid: call.accountSid,
    endedBy,
    twiml: call.twiml,
    ...optional,
    sentFrames: call.sentFrames,
    receivedMessages: received.length,
    receivedMediaMessages: received.filter((r) => r.event === 'media' && r.valid).length,
    marks: call.marks,
    clears: call.clears,
    heardMs: own.heardMs,
    heardAudibleMs: call.heardAudibleMs(),
    spokenByTwilio: [...call.spokenByTwilio],
    afterStreamVerbs: [...call.afterStreamVerbs],
    apiUpdates: [...call.apiUpdates],
    dialed: [...call.dialed],
    warnings: [...call.warnings],
    durationMs: own.durationMs,
  };
}
