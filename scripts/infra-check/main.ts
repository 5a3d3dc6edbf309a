/**
 * The structured part of infra/check.sh: the deployment files against the
 * code, without a Docker engine or a cluster. Run by check.sh (which also
 * drives the tools: docker compose config, nginx -t, npm ci --dry-run):
 *   node --conditions=source --import tsx scripts/infra-check/main.ts [section]
 * section: "dockerfile" or "config" (default: both). Prints one ok/FAIL/warn
 * line per finding and a last line `__RESULT__ <failures> <warnings>` for
 * check.sh; exits 1 when anything FAILed.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildContext } from './context.js';
import { checkCompose, readCompose } from './compose.js';
import { checkDockerfile } from './dockerfile.js';
import { checkEnvExample, readEnvExample } from './env-example.js';
import { checkK8s } from './k8s.js';
import { checkNginxConf } from './nginx-conf.js';
import { Report, list } from './report.js';
import { loadServices } from './services.js';
import { checkWorkspaceDependencies } from './workspaces.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
const EXPECTED_APPS = 3;
type Section = 'dockerfile' | 'config';
const SECTIONS: readonly Section[] = ['dockerfile', 'config'];

async function checkConfig(report: Report): Promise<void> {
  const services = await loadServices(ROOT, report);
  if (services.length !== EXPECTED_APPS) {
    report.fail(
      `expected ${EXPECTED_APPS} apps with src/config.ts, found ${services.length}: ${services.map((s) => s.name).join(', ')}`,
    );
  }
  const ctx = buildContext(ROOT, report, services, readEnvExample(ROOT));
  if (!ctx.linkListener || !ctx.linkPort)
    report.fail("no apps/*/src/config.ts reads MEDIA_LINK_PORT with a default (the bridge's media link listener)");
  else if (ctx.linkEnds.length < 2) {
    report.fail(
      `MEDIA_LINK_SECRET is read by ${list(ctx.linkEnds.map((s) => s.name)) || 'no service'}: both the gateway and the bridge must prove it`,
    );
  } else
    report.ok(
      `media link: ${ctx.linkListener.name} listens on ${ctx.linkPort}; MEDIA_LINK_SECRET read by ${list(ctx.linkEnds.map((s) => s.name))}`,
    );
  checkEnvExample(ctx);
  const compose = readCompose(ROOT);
  checkCompose(ctx, compose);
  checkNginxConf(ctx, compose);
  checkK8s(ctx);
  checkWorkspaceDependencies(ROOT, report);
}

async function main(): Promise<number> {
  const asked = process.argv[2];
  const sections = asked ? SECTIONS.filter((s) => s === asked) : SECTIONS;
  if (sections.length === 0) {
    process.stderr.write(`usage: scripts/infra-check/main.ts [${SECTIONS.join('|')}]\n`);
    return 2;
  }
  const report = new Report();
  if (sections.includes('dockerfile')) checkDockerfile(ROOT, report);
  if (sections.includes('config')) await checkConfig(report);
  process.stdout.write(`__RESULT__ ${report.failures} ${report.warnings}\n`);
  return report.failures > 0 ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    process.stdout.write(
      `FAIL  the structured checks stopped: ${err instanceof Error ? err.stack : String(err)}\n__RESULT__ 1 0\n`,
    );
    process.exit(1);
  });
