/**
 * Runs one of the project's services (or the Realtime double) as a separate
 * process, the way the demo, the bench and the multi-process tests need it:
 * TypeScript sources through tsx (or, for the bench, the compiled build),
 * readiness polled on /readyz, output kept for diagnosis, SIGTERM to stop (the
 * service's own drain path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { readProcStats, type ProcStats } from './proc-stats.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const SERVICE_ENTRIES = {
  webhook: 'apps/webhook/src/main.ts',
  'media-gateway': 'apps/media-gateway/src/main.ts',
  'realtime-bridge': 'apps/realtime-bridge/src/main.ts',
  'realtime-double': 'packages/testkit/src/realtime-double/cli.ts',
} as const;

export type ServiceName = keyof typeof SERVICE_ENTRIES;

/**
 * How a service is run: `source` (TypeScript through tsx, what tests and the demo use) or `build`
 * (the compiled `dist/main.js` that `npm run build` makes and the Dockerfile ships; the bench
 * measures this). A `build` entry is a .js path relative to the repo root.
 */
export type ServiceRuntime = 'source' | 'build';

/** apps/webhook/src/main.ts -> apps/webhook/dist/main.js: where `npm run build` puts a service. */
export function builtEntry(name: ServiceName): string {
  return SERVICE_ENTRIES[name].replace('/src/', '/dist/').replace(/\.ts$/, '.js');
}

const READY_POLL_MS = 50;
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_KEEP_CHARS = 200_000;

export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
}

export interface ServiceProcessOptions {
  name: ServiceName;
  /** Shown in errors and progress lines (e.g. gateway-2). */
  label?: string;
  env: Record<string, string | undefined>;
  /** Script to run instead of the service's own entry, relative to the repo root (e.g. the bench's direct bridge). */
  entry?: string;
  /** Default `source`. With `build`, the entry (own or given) is plain JavaScript run by node alone. */
  runtime?: ServiceRuntime;
  args?: string[];
  /** Poll http://127.0.0.1:<port>/readyz until 200; without it, wait for `readyLine`. */
  readyPort?: number;
  /** A stdout line matching this means ready (the double prints {"event":"ready",...}). */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
  /** Called with each stdout/stderr line (progress output). */
  onLine?: (line: string) => void;
}

export class ServiceProcess {
  private output = '';
  private exited = false;
  private readonly child: ChildProcess;
  readonly label: string;
  private readyLineMatch: string | undefined;
  private lineWaiters: Array<() => void> = [];

  constructor(private readonly options: ServiceProcessOptions) {
    this.label = options.label ?? options.name;
    this.child = spawn(
      process.execPath,
      options.runtime === 'build'
        ? [options.entry ?? builtEntry(options.name), ...(options.args ?? [])]
        : [
            '--conditions=source',
            '--import',
            'tsx',
            options.entry ?? SERVICE_ENTRIES[options.name],
            ...(options.args ?? []),
          ],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env } as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      this.output = (this.output + text).slice(-OUTPUT_KEEP_CHARS);
      for (const line of text.split('\n')) {
        if (!line) continue;
        options.onLine?.(line);
        if (options.readyLine?.test(line) && this.readyLineMatch === undefined) {
          this.readyLineMatch = line;
          for (const w of this.lineWaiters.splice(0)) w();
        }
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.child.on('exit', () => {
      this.exited = true;
      for (const w of this.lineWaiters.splice(0)) w();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get logs(): string {
    return this.output;
  }

  /** The stdout line that signalled readiness (when readyLine was used). */
  get readyMessage(): string | undefined {
    return this.readyLineMatch;
  }

  stats(): ProcStats | undefined {
    return readProcStats(this.pid);
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    if (this.options.readyLine) {
      await Promise.race([
        new Promise<void>((resolve) =>
          this.readyLineMatch !== undefined || this.exited ? resolve() : this.lineWaiters.push(resolve),
        ),
        new Promise<void>((resolve) => setTimeout(resolve, deadline - Date.now()).unref()),
      ]);
      if (this.readyLineMatch === undefined) throw this.failure('did not print its ready line');
      return;
    }
    while (Date.now() < deadline) {
      if (this.exited) throw this.failure('exited before it was ready');
      try {
        const res = await fetch(`http://127.0.0.1:${this.options.readyPort}/readyz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    throw this.failure('was not ready in time');
  }

  /** Kills the process without letting it clean up (a crashed pod): SIGKILL by default. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    const exit = once(this.child, 'exit');
    this.child.kill(signal);
    await exit;
  }

  /** Freezes the process (SIGSTOP), as a stalled VM or a long GC pause would; resume() thaws it. */
  pause(): void {
    if (!this.exited) this.child.kill('SIGSTOP');
  }

  resume(): void {
    if (!this.exited) this.child.kill('SIGCONT');
  }

  /** SIGTERM and wait for the service's own shutdown path; SIGKILL if it hangs. */
  async stop(): Promise<number | null> {
    if (this.exited) return this.child.exitCode;
    const exit = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exit;
    clearTimeout(timer);
    return this.child.exitCode;
  }

  private failure(problem: string): ServiceStartError {
    const tail = this.output.split('\n').slice(-15).join('\n');
    return new ServiceStartError(`${this.label} ${problem}. Last output:\n${tail}`);
  }
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const proc = new ServiceProcess(options);
  try {
    await proc.waitReady();
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return proc;
}
