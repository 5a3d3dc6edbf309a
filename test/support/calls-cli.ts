/**
 * Runs the on-call CLI (`npm run calls`) as a child process, the way a person
 * runs it, with the environment a test gives it, and collects what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '@voice/testkit';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

export function startCli(args: readonly string[], env: Record<string, string | undefined>): RunningCli {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'scripts/calls.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function runCli(args: readonly string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Every stdout line parsed as JSON (throws on a line that is not). */
export function jsonLines(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}
