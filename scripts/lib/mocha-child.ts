/**
 * Runs mocha in a child process of its own process group, for `npm test` and
 * `npm run test:cluster`: a signal to the runner (Ctrl-C, CI's time limit)
 * reaches every mocha process, the runner stops what it started (`onSignal`:
 * local services, a cluster) and exits with 128 + the signal's number, and no
 * mocha process outlives the runner. Resolves with mocha's exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

const MOCHA_BIN = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
/** Exit codes of a process ended by a signal: 128 + its number. */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
/** After a signal, mocha gets this long to stop on its own before its process group is killed. */
const MOCHA_STOP_GRACE_MS = 5000;

export interface MochaChildOptions {
  /** Arguments given to the runner; with no spec file among them, `defaultSpecs` are added. */
  args: string[];
  defaultSpecs: string[];
  cwd: string;
  /** Added to this process's environment. */
  env: Record<string, string | undefined>;
  /** On a signal, after it was passed to mocha: stop what the runner started. */
  onSignal(signal: NodeJS.Signals): Promise<void>;
  say(line: string): void;
}

/** True when the arguments name spec files (paths), so only those run. */
export function namesSpecs(args: readonly string[]): boolean {
  return args.some((a) => a.endsWith('.ts') || a.includes('/'));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export function runMochaChild(options: MochaChildOptions): Promise<number> {
  const specs = namesSpecs(options.args) ? [] : options.defaultSpecs;
  const child = spawn(process.execPath, [MOCHA_BIN, ...options.args, ...specs], {
    cwd: options.cwd,
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, ...options.env },
  });
  const killNow = () => signalGroup(child, 'SIGKILL');
  process.on('exit', killNow);
  for (const signal of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.once(signal, () => {
      signalGroup(child, signal);
      setTimeout(killNow, MOCHA_STOP_GRACE_MS).unref();
      void options.onSignal(signal).finally(() => process.exit(SIGNAL_EXIT[signal]));
    });
  }
  return new Promise((resolve) => {
    child.once('error', (err) => {
      options.say(`could not run mocha: ${err.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      process.off('exit', killNow);
      resolve(code ?? (signal ? (SIGNAL_EXIT[signal] ?? 1) : 1));
    });
  });
}
