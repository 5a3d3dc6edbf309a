/**
 * Progress lines on stderr (the table goes to stdout), prefixed with the time
 * since the bench started. Service log lines at warn/error are echoed, a few per
 * service, then counted, so a broken run says why without flooding the screen.
 */
const ECHOED_LOG_LINES_PER_SERVICE = 5;
const SERVICE_PROBLEM = /"level":"(error|warn)"/;

const startedAt = performance.now();

export function say(line: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${line}\n`);
}

export class ServiceLogEcho {
  private readonly seen = new Map<string, number>();

  readonly onLine = (label: string, line: string): void => {
    if (!SERVICE_PROBLEM.test(line)) return;
    const n = (this.seen.get(label) ?? 0) + 1;
    this.seen.set(label, n);
    if (n <= ECHOED_LOG_LINES_PER_SERVICE) say(`  ${label}: ${line.slice(0, 400)}`);
    else if (n === ECHOED_LOG_LINES_PER_SERVICE + 1)
      say(`  ${label}: more warnings/errors follow (counted, not shown)`);
  };

  /** Warn/error lines per service since the last call, then reset. */
  take(): Record<string, number> {
    const out = Object.fromEntries(this.seen);
    this.seen.clear();
    return out;
  }
}
