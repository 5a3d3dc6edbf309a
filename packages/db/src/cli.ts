/**
 * `node --conditions=source --import tsx packages/db/src/cli.ts migrate|seed|rollback`
 * Reads DATABASE_URL; prints one line on success or failure (never a stack
 * trace) and sets the exit code: 0 done, 1 failed, 2 bad usage.
 */
import { createDatabase, closeDatabase } from './database.js';
import { CliConfigError, loadCliConfig } from './cli/config.js';
import { commands, COMMAND_NAMES, isCommandName } from './cli/commands.js';
import { describeFailure } from './cli/describe-failure.js';
import { cliKnexLog } from './cli/knex-log.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...extra] = argv;
  if (!isCommandName(command) || extra.length > 0) {
    process.stderr.write(`usage: db <${COMMAND_NAMES.join('|')}>  (reads DATABASE_URL)\n`);
    return EXIT_USAGE;
  }

  let databaseUrl: string;
  try {
    databaseUrl = loadCliConfig(env).databaseUrl;
  } catch (error) {
    if (!(error instanceof CliConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_FAILED;
  }

  const knex = createDatabase(databaseUrl, { applicationName: `voice-db-cli-${command}`, log: cliKnexLog });
  try {
    process.stdout.write(`${await commands[command](knex)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${describeFailure(command, databaseUrl, error)}\n`);
    return EXIT_FAILED;
  } finally {
    await closeDatabase(knex);
  }
}

// exitCode rather than exit(): let stdout flush and sockets close on their own.
process.exitCode = await main(process.argv.slice(2), process.env);
