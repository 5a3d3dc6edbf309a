/**
 * A measurement run in a child process of its own, so its CPU is its alone: the child prints
 * progress as it likes, its stderr goes to the bench's, and its last stdout line is the result,
 * as JSON.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from '@voice/testkit';

export function runJsonChild<T>(label: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${label} exited with ${code} (its error is printed above)`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (err) {
        reject(new Error(`${label} printed no result: ${String(err)}`));
      }
    });
  });
}
