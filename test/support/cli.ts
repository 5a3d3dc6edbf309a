/**
 * Runs one of the project's command-line tools as an operator would (a child
 * process, TypeScript through tsx, only the environment given) and returns what
 * it printed. The on-call commands are named here once, so a test that reads
 * their output follows a renamed CLI by changing this file only.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '@voice/testkit';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command that prints one call's timeline for a human (`npm run calls -- show CA…`). */
export const SHOW_CALL_COMMAND: readonly string[] = ['scripts/calls.ts', 'show'];

/** A CLI gets this long before the test gives up on it. */
const CLI_TIMEOUT_MS = 30_000;

export function runCli(
  command: readonly string[],
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...command, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Prints one call the way the on-call engineer reads it. */
export function showCall(callSid: string, env: Record<string, string | undefined>): Promise<CliResult> {
  return runCli(SHOW_CALL_COMMAND, [callSid], env);
}
