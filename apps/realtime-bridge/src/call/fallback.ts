/**
 * What the caller gets when the model cannot serve the call. By default: the
 * gateway plays the pre-rendered fallback clip, then closes the stream so the
 * TwiML after </Connect> (the spoken fallback) runs. With a transfer number
 * configured: the live call is redirected through Twilio's REST API to a
 * human, with the hold clip while Twilio is asked (at most
 * CALL_CONTROL_TIMEOUT_MS). If the redirect fails, the default path still runs.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { Timeline } from '@voice/redis';
import type { CallConfig } from '../config.js';
import type { BridgeMetrics } from '../metrics.js';
import { OpenAIConnectError } from '../realtime/errors.js';
import { transferTwiml, type CallControl } from '../twilio/call-control.js';
import type { SilentFailureReason } from './call-outcome.js';
import type { CallTimeline } from './call-timeline.js';
import type { GatewayChannel } from './gateway-channel.js';

const TRANSFER_MESSAGE = 'Please hold while I transfer you to a colleague.';

export interface FallbackDeps {
  channel: GatewayChannel;
  callControl: CallControl | undefined;
  config: CallConfig;
  tl: CallTimeline;
  logger: Logger;
  /** The caller's hold clip: on while a transfer is asked of Twilio (up to CALL_CONTROL_TIMEOUT_MS), off before the fallback clip. */
  hold: { whileWaiting(): void; stop(): void };
}

export async function fallbackToCaller(deps: FallbackDeps, reason: string): Promise<void> {
  const transferTo = deps.config.fallbackTransferNumber;
  if (transferTo && deps.callControl) {
    deps.hold.whileWaiting();
    try {
      await deps.callControl.redirect(deps.tl.callSid, transferTwiml(transferTo, TRANSFER_MESSAGE));
      deps.hold.stop();
      await deps.tl.record('realtime.fallback', { reason, action: 'transfer', to: transferTo }, 'warn');
      return;
    } catch (err) {
      deps.logger.error('transfer through the Twilio API failed; using the spoken fallback', errorFields(err));
    }
  }
  deps.hold.stop();
  deps.channel.send({ t: 'hangup', reason, clip: 'fallback' });
  await deps.tl.record('realtime.fallback', { reason, action: 'fallback_clip_then_twiml' }, 'warn');
}

/** Records why the model could not be reached; returns the reason the fallback carries. */
export function recordConnectFailure(
  deps: { callSid: string; metrics: BridgeMetrics; timeline: Timeline; logger: Logger },
  reason: unknown,
): string {
  const error = reason instanceof OpenAIConnectError ? reason : new OpenAIConnectError('OPENAI_ERROR', String(reason));
  deps.metrics.connectFailures.inc({ reason: error.reason });
  void deps.timeline.record(
    deps.callSid,
    'openai.failed',
    { reason: error.reason, attempts: error.attempts, fatal: error.fatal, error: error.message },
    { level: 'error', logger: deps.logger },
  );
  return error.reason;
}

const SILENT_RESPONSE: SilentFailureReason = 'response_without_audio';

/** A response that started but produced no audio for the caller. */
export function recordSilentResponse(
  deps: { callSid: string; metrics: BridgeMetrics; timeline: Timeline; logger: Logger },
  responseId: string,
  waitedMs: number,
): void {
  deps.metrics.silentFailures.inc({ reason: SILENT_RESPONSE });
  void deps.timeline.record(
    deps.callSid,
    'call.silent_failure',
    { reason: SILENT_RESPONSE, response_id: responseId, waited_ms: waitedMs },
    { level: 'error', logger: deps.logger },
  );
}
