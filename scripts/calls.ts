/**
 * `npm run calls -- show CA…|live|failed [--since 1h]|tail|find --number +E164 [--json]`:
 * the on-call CLI (commands in scripts/calls/). Reads REDIS_URL or
 * REDIS_CLUSTER_NODES, DATABASE_URL and REDIS_NAMESPACE the way the services do.
 */
import { runCalls } from './calls/main.js';

/** After Ctrl-C a command has this long to close its connections before the process exits anyway. */
const STOP_GRACE_MS = 3000;
const EXIT_INTERRUPTED = 130;

const stop = new AbortController();
// Ctrl-C (or SIGTERM) ends a tail cleanly; any other command still waiting on a server is cut short.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stop.abort();
    setTimeout(() => process.exit(EXIT_INTERRUPTED), STOP_GRACE_MS).unref();
  });
}

// `calls tail --json | head -5`: the reader went away; that is the end of the command, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// exitCode rather than exit(): let stdout flush and sockets close on their own.
process.exitCode = await runCalls({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: stop.signal,
});
