/**
 * What the bench runs is what ships: the services from `npm run build` (node dist/main.js, as the
 * Dockerfile starts them), and the direct bridge compiled the same way (plain JavaScript, no tsx
 * in either process), so neither side pays for on-the-fly TypeScript.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '@voice/testkit';
import { say } from './progress.js';
import { DIRECT_BRIDGE_SOURCE } from './targets.js';
/** Under node_modules so the compiled file resolves express, openai and ws from the repo's own. */
const COMPILED_DIR = 'node_modules/.cache/voice-bench';

export class BuildError extends Error {
  override name = 'BuildError';
}

/** The repo's own `npm run build` (turbo, cached: a few seconds when nothing changed). Throws with its output on failure. */
export function buildServices(): void {
  say('building the services (npm run build; cached when unchanged)...');
  const result = spawnSync('npm', ['run', 'build', '--', '--output-logs=errors-only'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new BuildError(`npm run build failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
}

/** The direct bridge as an ES module next to the repo's node_modules; returns its path relative to the repo. */
export function compileDirectBridge(): string {
  const source = readFileSync(join(REPO_ROOT, DIRECT_BRIDGE_SOURCE), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: DIRECT_BRIDGE_SOURCE,
  });
  mkdirSync(join(REPO_ROOT, COMPILED_DIR), { recursive: true });
  const out = join(COMPILED_DIR, 'direct-bridge.mjs');
  writeFileSync(join(REPO_ROOT, out), outputText);
  return out;
}
