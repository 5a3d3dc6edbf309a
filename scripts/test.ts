/**
 * `npm test`: the whole mocha suite against the Redis at REDIS_URL and the
 * Postgres at DATABASE_URL. When a variable is unset and nothing answers on
 * its default address, a Redis / Postgres is started for this run only
 * (scripts/lib/local-services) and stopped at the end, whatever happens.
 * Arguments go to mocha; with no spec files given, every test in the repo runs:
 *   npm test -- apps/webhook/test/voice-webhook.test.ts
 *   npm test -- --grep barge
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { LocalServiceError, ensureLocalServices, type LocalServices } from './lib/local-services/local-services.js';

/** Not @voice/testkit's REPO_ROOT: loading the test kit here would delay every run. */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ALL_SPECS = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'];
const MOCHA_BIN = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
/** Exit codes of a process ended by a signal: 128 + its number. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** After a signal, mocha gets this long to stop on its own before its process group is killed. */
const MOCHA_STOP_GRACE_MS = 5000;
/** Redis or Postgres could not be found or started: nothing was tested. */
const EXIT_SETUP_FAILED = 2;

function say(line: string): void {
  process.stdout.write(`[test] ${line}\n`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function runMocha(args: string[], services: LocalServices): Promise<number> {
  const hasSpec = args.some((a) => a.endsWith('.ts') || a.includes('/'));
  // Its own process group, so a signal to this runner reaches every mocha process, and none outlives it.
  const child = spawn(process.execPath, [MOCHA_BIN, ...args, ...(hasSpec ? [] : ALL_SPECS)], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, ...services.env },
  });
  const killNow = () => signalGroup(child, 'SIGKILL');
  process.on('exit', killNow);
  for (const signal of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.once(signal, () => {
      signalGroup(child, signal);
      setTimeout(killNow, MOCHA_STOP_GRACE_MS).unref();
      void services.stop().finally(() => process.exit(SIGNAL_EXIT[signal]));
    });
  }
  return new Promise((resolve) => {
    child.once('error', (err) => {
      say(`could not run mocha: ${err.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      process.off('exit', killNow);
      resolve(code ?? (signal ? (SIGNAL_EXIT[signal] ?? 1) : 1));
    });
  });
}

async function main(): Promise<number> {
  let services: LocalServices;
  try {
    services = await ensureLocalServices(process.env);
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    say(err.message);
    return EXIT_SETUP_FAILED;
  }
  if (services.summary) say(services.summary);
  try {
    return await runMocha(process.argv.slice(2), services);
  } finally {
    await services.stop();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
