/** What the local Redis and Postgres starters hand back. */
export interface LocalProcess {
  /** Where it answers: the REDIS_URL / DATABASE_URL value for this run. */
  readonly url: string;
  readonly pid: number;
  /** Graceful stop; resolves once the process has exited. */
  stop(): Promise<void>;
  /** Synchronous last resort (from the 'exit' event, where nothing async runs). */
  killNow(): void;
}

export class LocalServiceError extends Error {
  override name = 'LocalServiceError';
}
