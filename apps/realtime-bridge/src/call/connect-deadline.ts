/**
 * The caller-facing limit on getting a model session ready (OPENAI_CONNECT_DEADLINE_MS):
 * counted from START for a call being set up (a warm session opened while the phone rang
 * included: before START nobody is waiting), or from the drop for a session being resumed
 * mid-call. Connect attempts and their retries run inside it, each still under its own
 * OPENAI_CONNECT_TIMEOUT_MS; when it passes, its signal aborts whatever is in flight (an
 * attempt, a back-off, the wait for session.updated) with an OPENAI_CONNECT_DEADLINE error,
 * so the caller gets the fallback then instead of after attempts x timeout.
 */
import { OpenAIConnectError } from '../realtime/errors.js';

export class ConnectDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private settled = false;

  constructor(private readonly ms: number) {}

  /** Aborted, with the OPENAI_CONNECT_DEADLINE error as its reason, when the deadline passes. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Starts the count from `sinceEpochMs` (START, or the drop); a no-op once armed or disarmed. */
  arm(sinceEpochMs: number): void {
    if (this.settled || this.timer) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, sinceEpochMs + this.ms - Date.now()));
    this.timer.unref();
  }

  /** The session is ready, or the call is over: the deadline no longer applies. */
  disarm(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    if (this.settled) return;
    this.settled = true;
    this.controller.abort(
      new OpenAIConnectError(
        'OPENAI_CONNECT_DEADLINE',
        `no model session ready ${this.ms} ms after the caller began to wait`,
      ),
    );
  }
}
