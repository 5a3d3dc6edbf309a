/**
 * A key the caller pressed (Twilio `dtmf`, forwarded by the gateway) reaches
 * the model as conversation input: a user text item "The caller pressed 3 on
 * the keypad.", then a response so the agent reacts. While the agent is
 * speaking, the response is asked for once the current one is done (asking
 * earlier is refused with conversation_already_has_active_response); a key
 * press does not interrupt the agent. A response the bridge asked for may not
 * have been created yet when the key arrives, so a refusal of our own
 * response.create (matched by its event_id) also means "after the current one". A business with DTMF off (the
 * businesses table, carried in the prompt) keeps key presses from the model;
 * a press with no model session (setup, reconnecting) is dropped. Every press
 * is on the timeline (`dtmf.received`) with what became of it.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { dtmfText } from '@voice/agent';
import type { CallTimeline } from './call-timeline.js';

export type DtmfOutcome = 'sent_to_model' | 'ignored';
/** Our response.create events carry this event_id prefix, so a refusal of one can be told apart. */
const RESPONSE_EVENT_PREFIX = 'dtmf_response_';
const ACTIVE_RESPONSE_CODE = 'conversation_already_has_active_response';
export type DtmfIgnoredReason = 'dtmf_disabled' | 'not_live';

export interface DtmfInputDeps {
  tl: CallTimeline;
  /** Whether this call's business lets key presses reach the model (undefined: prompt not loaded yet). */
  enabled(): boolean | undefined;
  /** Sends to the model session if the call is live; false otherwise. */
  send(event: RealtimeClientEvent): boolean;
  hasActiveResponse(): boolean;
  /** The key press as the caller's turn on the conversation record (a resumed session and the transcript see it). */
  recordTurn(text: string): void;
}

export class DtmfInput {
  private responseWanted = false;
  private requests = 0;

  constructor(private readonly deps: DtmfInputDeps) {}

  onDigit(digit: string): void {
    const { deps } = this;
    const enabled = deps.enabled();
    if (enabled === false) return this.ignored(digit, 'dtmf_disabled');
    const text = dtmfText(digit);
    const item: RealtimeClientEvent = {
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    };
    if (enabled === undefined || !deps.send(item)) return this.ignored(digit, 'not_live');
    deps.recordTurn(text);
    void deps.tl.record('dtmf.received', { digit, outcome: 'sent_to_model' satisfies DtmfOutcome });
    if (deps.hasActiveResponse()) this.responseWanted = true;
    else this.requestResponse();
  }

  /** A response finished: a key press waiting for an answer gets it now. */
  onResponseDone(): void {
    if (!this.responseWanted) return;
    this.responseWanted = false;
    this.requestResponse();
  }

  /** The model refused a request: if it was ours because a response was already on its way, ask again after it. */
  onServerError(code: string, eventId: string | null | undefined): void {
    if (code === ACTIVE_RESPONSE_CODE && eventId?.startsWith(RESPONSE_EVENT_PREFIX)) this.responseWanted = true;
  }

  private requestResponse(): void {
    this.deps.send({ type: 'response.create', event_id: `${RESPONSE_EVENT_PREFIX}${++this.requests}` });
  }

  private ignored(digit: string, reason: DtmfIgnoredReason): void {
    void this.deps.tl.record('dtmf.received', { digit, outcome: 'ignored' satisfies DtmfOutcome, reason });
  }
}
