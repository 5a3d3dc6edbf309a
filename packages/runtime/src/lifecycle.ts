/**
 * One shutdown path per process: SIGTERM/SIGINT stop the service once, in the
 * order its composition root registered, with a deadline after which the process
 * exits anyway (an orchestrator will SIGKILL soon after).
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';

export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const SHUTDOWN_DEFAULTS = { deadlineMs: 25_000 } as const;

export function installShutdown(opts: { service: Lifecycle; logger: Logger; deadlineMs?: number }): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadlineMs = opts.deadlineMs ?? SHUTDOWN_DEFAULTS.deadlineMs;
    opts.logger.info('shutting down', { signal, deadlineMs });
    const timer = setTimeout(() => {
      opts.logger.error('shutdown deadline passed; exiting', { deadlineMs });
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    opts.service
      .stop()
      .then(() => {
        opts.logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        opts.logger.error('shutdown failed', errorFields(err));
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/** Runs stop steps in order; one failing step is logged and does not skip the rest. */
export async function stopInOrder(
  logger: Logger,
  steps: Array<[name: string, stop: () => Promise<unknown> | unknown]>,
): Promise<void> {
  for (const [name, stop] of steps) {
    try {
      await stop();
    } catch (err) {
      logger.error('stop step failed', { step: name, ...errorFields(err) });
    }
  }
}

/** Entry-point guard: a start failure prints one clear line (ConfigError etc.) and exits non-zero. */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${service}: failed to start: ${message}\n`);
    process.exit(1);
  });
}
