/**
 * Keys the caller pressed (Twilio `dtmf`, forwarded by the gateway) reach the
 * model as conversation input: a user text item, then a response so the agent
 * reacts. Keys pressed in a row are one entry: an account number typed on the
 * keypad reaches the model once, as "The caller entered 12345 on the keypad.",
 * not as five presses the agent answers one by one while the caller is still
 * typing. An entry ends when no key follows within `entryGapMs`, or at once on
 * `#` (which ends it and is not part of it, unless it is the only key); a
 * single key is "The caller pressed 3 on the keypad.".
 *
 * While the agent is speaking, the response is asked for once the current one
 * is done (asking earlier is refused with conversation_already_has_active_response);
 * a key press does not interrupt the agent. A response the bridge asked for may
 * not have been created yet when the entry arrives, so a refusal of our own
 * response.create (matched by its event_id) also means "after the current one".
 * A business with DTMF off (the businesses table, carried in the prompt) keeps
 * key presses from the model. An entry that ends while no model session can
 * take it (set-up, a reconnect after a drop, a call resuming on this bridge
 * after a move) waits for one: `onLive()` sends it, in order, and its timeline
 * entry says how long it waited (`waited_ms`). Only an entry still waiting
 * when the call ends is lost, and recorded so. Every entry is on the timeline
 * (`dtmf.received`, `digit` = its keys) with what became of it and what ended it.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { dtmfText } from '@voice/agent';
import type { CallTimeline } from './call-timeline.js';

export type DtmfOutcome = 'sent_to_model' | 'ignored';
/** What ended an entry: a pause after the last key, the `#` key, or the call. */
export type DtmfEntryEnd = 'pause' | 'pound' | 'call_end';
/** Our response.create events carry this event_id prefix, so a refusal of one can be told apart. */
const RESPONSE_EVENT_PREFIX = 'dtmf_response_';
const ACTIVE_RESPONSE_CODE = 'conversation_already_has_active_response';
const END_KEY = '#';
/** More keys than any number a caller types is not an entry but a stuck key or a test tone. */
const MAX_ENTRY_KEYS = 32;
/** Entries that may wait for a model session; more are not a caller answering the agent (recorded as ignored). */
const MAX_WAITING_ENTRIES = 8;
export type DtmfIgnoredReason = 'dtmf_disabled' | 'not_live';

export interface DtmfInputDeps {
  tl: CallTimeline;
  /** Whether this call's business lets key presses reach the model (undefined: prompt not loaded yet). */
  enabled(): boolean | undefined;
  /** Sends to the model session if the call is live; false otherwise (the entry then waits for `onLive`). */
  send(event: RealtimeClientEvent): boolean;
  hasActiveResponse(): boolean;
  /** The entry as the caller's turn on the conversation record (a resumed session and the transcript see it). */
  recordTurn(text: string): void;
  /** Keys within this long of each other are one entry; 0: each key on its own. */
  entryGapMs: number;
}

export class DtmfInput {
  private responseWanted = false;
  private requests = 0;
  private entry = '';
  private entryTimer: NodeJS.Timeout | undefined;
  /** Entries ended while no model session could take them, oldest first, with when they ended. */
  private waiting: { keys: string; end: DtmfEntryEnd; endedAt: number }[] = [];

  constructor(private readonly deps: DtmfInputDeps) {}

  onDigit(digit: string): void {
    if (this.deps.enabled() === false) return this.ignored(digit, 'dtmf_disabled');
    if (digit === END_KEY) return this.endEntry('pound', this.entry === '' ? END_KEY : '');
    this.entry += digit;
    if (this.deps.entryGapMs <= 0 || this.entry.length >= MAX_ENTRY_KEYS) return this.endEntry('pause');
    clearTimeout(this.entryTimer);
    this.entryTimer = setTimeout(() => this.endEntry('pause'), this.deps.entryGapMs);
  }

  /** Keys typed that have not yet become an entry (the caller is still typing). */
  get entryOpen(): boolean {
    return this.entry !== '';
  }

  /** Entries ended and not yet sent, waiting for a model session. */
  get waitingEntries(): number {
    return this.waiting.length;
  }

  /** A model session is live (set up, reconnected, resumed): entries that waited for one go to it now, in order. */
  onLive(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const entry of waiting) {
      if (!this.deliver(entry.keys, entry.end, Date.now() - entry.endedAt)) this.waiting.push(entry);
    }
  }

  /** A response finished: an entry waiting for an answer gets it now. */
  onResponseDone(): void {
    if (!this.responseWanted) return;
    this.responseWanted = false;
    this.requestResponse();
  }

  /** The model refused a request: if it was ours because a response was already on its way, ask again after it. */
  onServerError(code: string, eventId: string | null | undefined): void {
    if (code === ACTIVE_RESPONSE_CODE && eventId?.startsWith(RESPONSE_EVENT_PREFIX)) this.responseWanted = true;
  }

  /**
   * The call is moving to another bridge mid-entry: the keys typed so far leave with it (see
   * `rehome`), so the next bridge ends the entry as one; nothing is recorded here.
   */
  takeOpenEntry(): string {
    clearTimeout(this.entryTimer);
    this.entryTimer = undefined;
    return this.takeEntry();
  }

  /** The call is ending: entries that never reached the model are recorded so, no timer is left. */
  stop(): void {
    clearTimeout(this.entryTimer);
    this.entryTimer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    for (const entry of waiting) this.ignored(entry.keys, 'not_live', entry.end);
    if (this.entry !== '') this.ignored(this.takeEntry(), 'not_live', 'call_end');
  }

  /** `extra`: a key that is the entry by itself (a lone `#`). */
  private endEntry(end: DtmfEntryEnd, extra = ''): void {
    clearTimeout(this.entryTimer);
    this.entryTimer = undefined;
    const keys = this.takeEntry() + extra;
    if (keys === '' || this.deliver(keys, end)) return;
    if (this.waiting.length >= MAX_WAITING_ENTRIES) return this.ignored(keys, 'not_live', end);
    this.waiting.push({ keys, end, endedAt: Date.now() });
  }

  /**
   * The entry as a user text item and a response asked for; false when no model session can take
   * it now. `waitedMs`: it ended before a session was live and waited this long.
   */
  private deliver(keys: string, end: DtmfEntryEnd, waitedMs?: number): boolean {
    const { deps } = this;
    const enabled = deps.enabled();
    // The business turned DTMF off (known once the prompt is loaded): recorded, not sent.
    if (enabled === false) {
      this.ignored(keys, 'dtmf_disabled', end);
      return true;
    }
    const text = dtmfText(keys);
    const item: RealtimeClientEvent = {
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
    };
    if (enabled === undefined || !deps.send(item)) return false;
    deps.recordTurn(text);
    void deps.tl.record('dtmf.received', {
      digit: keys,
      outcome: 'sent_to_model' satisfies DtmfOutcome,
      ended_by: end,
      waited_ms: waitedMs,
    });
    if (deps.hasActiveResponse()) this.responseWanted = true;
    else this.requestResponse();
    return true;
  }

  private takeEntry(): string {
    const keys = this.entry;
    this.entry = '';
    return keys;
  }

  private requestResponse(): void {
    this.deps.send({ type: 'response.create', event_id: `${RESPONSE_EVENT_PREFIX}${++this.requests}` });
  }

  /** `end` unset: a key ignored on its own (DTMF off), never part of an entry. */
  private ignored(keys: string, reason: DtmfIgnoredReason, end?: DtmfEntryEnd): void {
    void this.deps.tl.record('dtmf.received', {
      digit: keys,
      outcome: 'ignored' satisfies DtmfOutcome,
      reason,
      ended_by: end,
    });
  }
}
