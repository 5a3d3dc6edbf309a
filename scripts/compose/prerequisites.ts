/**
 * The tools this script drives, from Debian's packages: the engine
 * (docker.io: dockerd, containerd, runc, the docker client), docker-compose
 * and debootstrap. A fresh machine has none of them; as root with apt-get they
 * are installed here, otherwise the error says what to install.
 */
import { execFileSync } from 'node:child_process';
import { runCommand } from './command.js';
import { SMOKE } from './settings.js';

export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

type Tool = keyof typeof SMOKE.debianPackages;

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs the Debian packages of the missing tools; returns the packages it installed. */
export async function ensureTools(logFile: string): Promise<string[]> {
  const missing = (Object.keys(SMOKE.debianPackages) as Tool[]).filter((tool) => !onPath(tool));
  // The client alone (a docker binary with no dockerd) is not enough: dockerd decides.
  const packages = [...new Set(missing.map((tool) => SMOKE.debianPackages[tool]))];
  if (packages.length === 0) return [];
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new PrerequisiteError(
      `missing ${missing.join(', ')}: install Debian's ${packages.join(' ')} (apt-get install ${packages.join(' ')})`,
    );
  }
  const apt = { timeoutMs: SMOKE.timeouts.aptMs, logFile, env: { DEBIAN_FRONTEND: 'noninteractive' } };
  await runCommand('apt-get', ['update'], apt);
  await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...packages], apt);
  const still = missing.filter((tool) => !onPath(tool));
  if (still.length)
    throw new PrerequisiteError(`installed ${packages.join(' ')} but ${still.join(', ')} is still not on PATH`);
  return packages;
}
