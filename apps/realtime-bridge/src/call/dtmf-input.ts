/**
 * A key the caller pressed (Twilio `dtmf`, forwarded by the gateway) reaches
 * the model as conversation input: a user text item "The caller pressed 3 on
 * the keypad.", then a response so the agent reacts. While the agent is
 * speaking, the response is asked for once the current one is done (asking
 * earlier is refused with conversation_already_has_active_response); a key
 * press does not interrupt the agent. A business with DTMF off (the
 * businesses table, carried in the prompt) keeps key presses from the model;
 * a press with no model session (setup, reconnecting) is dropped. Every press
 * is on the timeline (`dtmf.received`) with what became of it.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { CallTimeline } from './call-timeline.js';

export type DtmfOutcome = 'sent_to_model' | 'ignored';
export type DtmfIgnoredReason = 'dtmf_disabled' | 'not_live';

export interface DtmfInputDeps {
  tl: CallTimeline;
  /** Whether this call's business lets key presses reach the model (undefined: prompt not loaded yet). */
  enabled(): boolean | undefined;
  /** Sends to the model session if the call is live; false otherwise. */
  send(event: RealtimeClientEvent): boolean;
  hasActiveResponse(): boolean;
}

export function dtmfText(digit: string): string {
  return `The caller pressed ${digit} on the keypad.`;
}

export class DtmfInput {
  private responseWanted = false;

  constructor(private readonly deps: DtmfInputDeps) {}

  onDigit(digit: string): void {
    const { deps } = this;
    const enabled = deps.enabled();
    if (enabled === false) return this.ignored(digit, 'dtmf_disabled');
    const item: RealtimeClientEvent = { type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: dtmfText(digit) }] } };
    if (enabled === undefined || !deps.send(item)) return this.ignored(digit, 'not_live');
    void deps.tl.record('dtmf.received', { digit, outcome: 'sent_to_model' satisfies DtmfOutcome });
    if (deps.hasActiveResponse()) this.responseWanted = true;
    else deps.send({ type: 'response.create' });
  }

  /** A response finished: a key press waiting for an answer gets it now. */
  onResponseDone(): void {
    if (!this.responseWanted) return;
    this.responseWanted = false;
    this.deps.send({ type: 'response.create' });
  }

  private ignored(digit: string, reason: DtmfIgnoredReason): void {
    void this.deps.tl.record('dtmf.received', { digit, outcome: 'ignored' satisfies DtmfOutcome, reason });
  }
}
