/**
 * Notices a response that started but never produced audio for the caller:
 * the model is "talking" and the caller hears nothing. Fires once per call.
 */
export class SilenceWatch {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private fired = false;

  constructor(
    private readonly limitMs: number,
    private readonly onSilent: (responseId: string) => void,
  ) {}

  responseStarted(responseId: string): void {
    if (this.fired) return;
    const timer = setTimeout(() => {
      this.timers.delete(responseId);
      if (this.fired) return;
      this.fired = true;
      this.onSilent(responseId);
    }, this.limitMs);
    timer.unref();
    this.timers.set(responseId, timer);
  }

  /** Audio reached the caller, or the response ended without needing any (a tool call, a cancel). */
  responseSettled(responseId: string): void {
    clearTimeout(this.timers.get(responseId));
    this.timers.delete(responseId);
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
