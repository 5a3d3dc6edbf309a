/**
 * The greeting is the caller's proof that someone answered. The model can refuse it (an `error`
 * in answer to its response.create) or end it without a sound (response.done `failed` or
 * `incomplete` before any audio). Either way the caller would wait on the hold clip for a
 * greeting that is not coming, so it is asked for once more; if that fails too, the call goes to
 * the fallback (OPENAI_GREETING_FAILED) and the caller is told, instead of hearing hold music
 * until they give up.
 */
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';

/** Requests of the greeting before the call goes to the fallback. */
export const GREETING_ATTEMPTS = 2;
/** The fallback reason (realtime.fallback, realtime_fallbacks_total, the calls row's end_reason). */
export const GREETING_FAILED = 'OPENAI_GREETING_FAILED';
/** Our greeting's response.create carries this event_id prefix, so a refusal of it can be told apart. */
const GREETING_EVENT_PREFIX = 'greeting_';
/** The model is already answering something (the caller spoke first): that reply is the greeting now. */
const ACTIVE_RESPONSE_CODE = 'conversation_already_has_active_response';

export interface GreetingFailure {
  attempt: number;
  /** `refused` (an error event), else the response's status: `failed` or `incomplete`. */
  status: string;
  /** The error code the model gave, or '' when it gave none. */
  code: string;
  /** True when the greeting is asked for again; false when the call goes to the fallback. */
  retrying: boolean;
}

export interface GreetingGuardDeps {
  /** Sends the greeting's response.create to the current session (and marks the next response as the greeting). */
  ask(event: RealtimeClientEvent): void;
  onFailure(failure: GreetingFailure): void;
  giveUp(reason: typeof GREETING_FAILED): void;
}

export class GreetingGuard {
  private attempts = 0;
  private pendingEventId: string | undefined;
  private settled = false;

  constructor(private readonly deps: GreetingGuardDeps) {}

  request(): void {
    this.attempts++;
    this.pendingEventId = `${GREETING_EVENT_PREFIX}${this.attempts}`;
    this.deps.ask({ type: 'response.create', event_id: this.pendingEventId });
  }

  /** The greeting's response began: a refusal can no longer come for its request. */
  onCreated(): void {
    this.pendingEventId = undefined;
  }

  /** An error event from the model; true when it was the refusal of the greeting's request. */
  onError(code: string, clientEventId: string | null | undefined): boolean {
    if (this.settled || !clientEventId || clientEventId !== this.pendingEventId) return false;
    this.pendingEventId = undefined;
    if (code === ACTIVE_RESPONSE_CODE) {
      // Not a failure: whatever the model is saying reaches the caller like a greeting would.
      this.settled = true;
      return true;
    }
    this.failed('refused', code);
    return true;
  }

  /** The greeting's response ended. `heardModel`: model audio has gone to the caller. */
  onDone(status: string | undefined, code: string, heardModel: boolean): void {
    if (this.settled) return;
    // Completed (a spoken greeting, or a tool call first) or cut off by the caller speaking: not a failure.
    if (heardModel || status === 'completed' || status === 'cancelled') {
      this.settled = true;
      return;
    }
    this.failed(status ?? 'unknown', code);
  }

  private failed(status: string, code: string): void {
    const retrying = this.attempts < GREETING_ATTEMPTS;
    this.deps.onFailure({ attempt: this.attempts, status, code, retrying });
    if (retrying) return this.request();
    this.settled = true;
    this.deps.giveUp(GREETING_FAILED);
  }
}
