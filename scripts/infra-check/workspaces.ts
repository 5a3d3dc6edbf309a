/**
 * Every workspace declares the @voice/* packages its src imports: turbo builds
 * in that order (^build), and so does the image's `npm run build`. The
 * manifests belong to the workspaces, hence a warning.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sorted, type Report } from './report.js';

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function importsUnder(dir: string, into: Set<string>): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) importsUnder(join(dir, e.name), into);
    else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name)) {
      for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/from\s+'(@voice\/[\w-]+)'/g)) into.add(m[1]!);
    }
  }
}

export function checkWorkspaceDependencies(root: string, report: Report): void {
  const dirs = ['apps', 'packages'].flatMap((top) =>
    readdirSync(join(root, top), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `${top}/${d.name}`),
  );
  const problems: string[] = [];
  for (const dir of dirs) {
    const pkgFile = join(root, dir, 'package.json');
    if (!existsSync(pkgFile) || !existsSync(join(root, dir, 'src'))) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as Manifest;
    const declared = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
    const used = new Set<string>();
    importsUnder(join(root, dir, 'src'), used);
    used.delete(pkg.name);
    const undeclared = sorted(used).filter((u) => !(u in declared));
    if (undeclared.length) problems.push(`${dir} imports ${undeclared.join(', ')} without declaring it`);
  }
  if (problems.length)
    report.warn(
      `workspace dependencies: turbo may build a package before what it imports, breaking the image's npm run build: ${problems.join('; ')}`,
    );
  else report.ok('every workspace declares the @voice/* packages its src imports (turbo builds them first)');
}
