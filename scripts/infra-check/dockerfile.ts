/** The Dockerfile's shape, and the files the image runs and copies. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from './report.js';

const DOCKERFILE_LINES: Array<[string, RegExp]> = [
  ['node 20 bookworm-slim base', /^ARG NODE_IMAGE=node:20-bookworm-slim/m],
  ['build stage runs npm ci', /^RUN npm ci$/m],
  ['build stage runs npm run build', /^RUN npm run build/m],
  ['runtime dependencies via npm ci --omit=dev', /^RUN npm ci --omit=dev/m],
  ['NODE_ENV=production in the runtime stage', /^ENV NODE_ENV=production/m],
  ['non-root user', /^USER node/m],
  ['default command is the webhook', /^CMD \["node", "apps\/webhook\/dist\/main\.js"\]/m],
];
const DOCKERIGNORED = ['**/node_modules', '**/dist', '.env'];

function subdirs(root: string, top: string): string[] {
  return readdirSync(join(root, top), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `${top}/${d.name}`)
    .sort();
}

export function checkDockerfile(root: string, report: Report): void {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  for (const [what, re] of DOCKERFILE_LINES) {
    if (re.test(dockerfile)) report.ok(`Dockerfile: ${what}`);
    else report.fail(`Dockerfile: ${what} (no line matches ${re.source})`);
  }
  for (const app of subdirs(root, 'apps')) {
    if (existsSync(join(root, app, 'src/main.ts')))
      report.ok(`${app}/src/main.ts exists (image runs ${app}/dist/main.js)`);
    else report.fail(`${app}/src/main.ts missing`);
  }
  for (const assets of [...subdirs(root, 'apps'), ...subdirs(root, 'packages')].map((d) => `${d}/assets`)) {
    if (!existsSync(join(root, assets))) continue;
    if (dockerfile.includes('for part in dist assets')) report.ok(`Dockerfile copies ${assets} into the image`);
    else report.fail(`Dockerfile does not copy ${assets} (the code reads it at run time)`);
  }
  if (existsSync(join(root, 'packages/db/src/cli.ts')))
    report.ok('packages/db/src/cli.ts exists (migrate runs packages/db/dist/cli.js)');
  else report.fail('packages/db/src/cli.ts missing');
  const ignored = existsSync(join(root, '.dockerignore'))
    ? readFileSync(join(root, '.dockerignore'), 'utf8').split('\n')
    : [];
  for (const pattern of DOCKERIGNORED) {
    if (ignored.includes(pattern)) report.ok(`.dockerignore excludes ${pattern}`);
    else report.fail(`.dockerignore does not exclude ${pattern}`);
  }
}
