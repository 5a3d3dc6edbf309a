/**
 * Runs one external tool (docker, docker-compose, debootstrap, apt-get, npm)
 * with a time limit, its output appended to the run's log file and kept in
 * memory for the caller (stdout) and for the error message (the last lines).
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { SMOKE } from './settings.js';

const ERROR_TAIL_LINES = 15;

export class CommandError extends Error {
  override name = 'CommandError';
}

export class CommandTimeoutError extends CommandError {
  override name = 'CommandTimeoutError';
}

export interface CommandOptions {
  timeoutMs: number;
  /** Replaces the inherited environment's entries (undefined removes one). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Fed to the tool's standard input (a Dockerfile for `docker build -`). */
  input?: string;
  /** Run under `nice` (builds, debootstrap). */
  nice?: boolean;
  /** Every line goes here too. */
  logFile?: string;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export function runCommand(cmd: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const [file, argv] = options.nice ? ['nice', ['-n', String(SMOKE.niceness), cmd, ...args]] : [cmd, [...args]];
  const shown = describeCommand(cmd, args);
  if (options.logFile) appendFileSync(options.logFile, `\n$ ${shown}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      cwd: options.cwd,
      env: mergeEnv(options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      into.push(chunk);
      if (options.logFile) appendFileSync(options.logFile, chunk);
    };
    child.stdout?.on('data', keep(out));
    child.stderr?.on('data', keep(err));
    if (options.input !== undefined) child.stdin?.end(options.input);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), SMOKE.timeouts.killGraceMs).unref();
    }, options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(`${shown}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut)
        return reject(
          new CommandTimeoutError(
            `${shown}: no result after ${Math.round(options.timeoutMs / 1000)} s${tail(stderr || stdout)}`,
          ),
        );
      if (code !== 0) return reject(new CommandError(`${shown}: exit ${code ?? signal}${tail(stderr || stdout)}`));
      resolve({ stdout, stderr });
    });
  });
}

/** True when the tool ran and exited 0 within the limit. */
export async function succeeds(cmd: string, args: readonly string[], options: CommandOptions): Promise<boolean> {
  try {
    await runCommand(cmd, args, options);
    return true;
  } catch {
    return false;
  }
}

function mergeEnv(extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function tail(text: string): string {
  const lines = text.trimEnd().split('\n').slice(-ERROR_TAIL_LINES);
  return lines.length && lines[0] ? `\n    ${lines.join('\n    ')}` : '';
}
