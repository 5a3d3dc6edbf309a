/**
 * `npm test`: the whole mocha suite against the Redis at REDIS_URL and the
 * Postgres at DATABASE_URL. When a variable is unset and nothing answers on
 * its default address, a Redis / Postgres is started for this run only
 * (scripts/lib/local-services) and stopped at the end, whatever happens.
 * Arguments go to mocha; with no spec files given, every test in the repo runs:
 *   npm test -- apps/webhook/test/voice-webhook.test.ts
 *   npm test -- --grep barge
 */
import { fileURLToPath } from 'node:url';
import { LocalServiceError, ensureLocalServices, type LocalServices } from './lib/local-services/local-services.js';
import { runMochaChild } from './lib/mocha-child.js';

/** Not @voice/testkit's REPO_ROOT: loading the test kit here would delay every run. */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ALL_SPECS = ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'];
/** Redis or Postgres could not be found or started: nothing was tested. */
const EXIT_SETUP_FAILED = 2;

function say(line: string): void {
  process.stdout.write(`[test] ${line}\n`);
}

async function main(): Promise<number> {
  let services: LocalServices;
  try {
    services = await ensureLocalServices(process.env);
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    say(err.message);
    return EXIT_SETUP_FAILED;
  }
  if (services.summary) say(services.summary);
  try {
    return await runMochaChild({
      args: process.argv.slice(2),
      defaultSpecs: ALL_SPECS,
      cwd: REPO_ROOT,
      env: services.env,
      onSignal: () => services.stop(),
      say,
    });
  } finally {
    await services.stop();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
